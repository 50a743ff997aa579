// GGUF parsing: a bounds-checked cursor over the mapped bytes, the metadata value decoder, the
// tensor-info table with its size/offset/alignment checks, and the mmap that owns the bytes.
#include "io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace kite {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxDims = 4;              // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;        // nested arrays deeper than this are rejected
constexpr uint64_t kMaxNameLen = 1 << 16;

struct GgmlTypeInfo {
    const char* name;  // nullptr: not a ggml type (ids retired or never used)
    int64_t block_elems;
    int64_t block_bytes;
};

// Indexed by ggml type id (sizes as the gguf PyPI package lists them, q8_1 as ggml lays it out).
// Ids 4, 5, 31-33, 36-38 are retired in ggml and invalid in files.
constexpr GgmlTypeInfo kGgmlTypes[] = {
    {"f32", 1, 4},        {"f16", 1, 2},       {"q4_0", 32, 18},    {"q4_1", 32, 20},
    {nullptr, 0, 0},      {nullptr, 0, 0},     {"q5_0", 32, 22},    {"q5_1", 32, 24},
    {"q8_0", 32, 34},     {"q8_1", 32, 36},    {"q2_K", 256, 84},   {"q3_K", 256, 110},
    {"q4_K", 256, 144},   {"q5_K", 256, 176},  {"q6_K", 256, 210},  {"q8_K", 256, 292},
    {"iq2_xxs", 256, 66}, {"iq2_xs", 256, 74}, {"iq3_xxs", 256, 98}, {"iq1_s", 256, 50},
    {"iq4_nl", 32, 18},   {"iq3_s", 256, 110}, {"iq2_s", 256, 82},  {"iq4_xs", 256, 136},
    {"i8", 1, 1},         {"i16", 1, 2},       {"i32", 1, 4},       {"i64", 1, 8},
    {"f64", 1, 8},        {"iq1_m", 256, 56},  {"bf16", 1, 2},      {nullptr, 0, 0},
    {nullptr, 0, 0},      {nullptr, 0, 0},     {"tq1_0", 256, 54},  {"tq2_0", 256, 66},
    {nullptr, 0, 0},      {nullptr, 0, 0},     {nullptr, 0, 0},     {"mxfp4", 32, 17},
    {"nvfp4", 64, 36},    {"q1_0", 128, 18},
};
constexpr uint32_t kNumGgmlTypes = sizeof(kGgmlTypes) / sizeof(kGgmlTypes[0]);

const GgmlTypeInfo* ggml_info(uint32_t t) {
    if (t >= kNumGgmlTypes || kGgmlTypes[t].name == nullptr) return nullptr;
    return &kGgmlTypes[t];
}

// (ggml id, kite dtype) pairs for the types kite computes on.
constexpr std::pair<uint32_t, DType> kDTypeMap[] = {
    {0, DType::kF32},   {1, DType::kF16},   {30, DType::kBF16}, {8, DType::kQ8_0},
    {2, DType::kQ4_0},  {3, DType::kQ4_1},  {6, DType::kQ5_0},  {7, DType::kQ5_1},
    {12, DType::kQ4_K}, {13, DType::kQ5_K}, {14, DType::kQ6_K}, {24, DType::kI8},
    {26, DType::kI32},  {27, DType::kI64},
};

int64_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
        case GgufType::kU16: case GgufType::kI16: return 2;
        case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
        case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
        case GgufType::kString: case GgufType::kArray: return 0;
    }
    return 0;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kF64); }

}  // namespace

const char* gguf_type_name(GgufType t) {
    static const char* const kNames[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                         "bool", "string", "array", "u64", "i64", "f64"};
    const auto i = static_cast<uint32_t>(t);
    return i < 13 ? kNames[i] : "unknown";
}

const char* ggml_type_name(uint32_t ggml_type) {
    const GgmlTypeInfo* info = ggml_info(ggml_type);
    return info ? info->name : "unknown";
}

Result<DType> dtype_from_ggml(uint32_t ggml_type) {
    for (const auto& [id, dt] : kDTypeMap) {
        if (id == ggml_type) return dt;
    }
    return unimplemented(std::string("ggml type ") + ggml_type_name(ggml_type) + " (" +
                         std::to_string(ggml_type) + ") is not supported by kite");
}

uint32_t ggml_type_from_dtype(DType t) {
    for (const auto& [id, dt] : kDTypeMap) {
        if (dt == t) return id;
    }
    return UINT32_MAX;
}

bool GgufValue::is_int() const {
    switch (type) {
        case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
        case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64:
            return true;
        default:
            return false;
    }
}

bool GgufValue::is_float() const { return type == GgufType::kF32 || type == GgufType::kF64; }

uint64_t GgufValue::array_size() const {
    if (type != GgufType::kArray) return 0;
    switch (elem_type) {
        case GgufType::kString: return strings.size();
        case GgufType::kArray: return arrays.size();
        case GgufType::kF32: case GgufType::kF64: return floats.size();
        default: return ints.size();
    }
}

nlohmann::json GgufValue::to_json() const {
    switch (type) {
        case GgufType::kBool: return u64 != 0;
        case GgufType::kString: return str;
        case GgufType::kF32: case GgufType::kF64: return f64;
        case GgufType::kU64: return u64;
        case GgufType::kArray: {
            nlohmann::json a = nlohmann::json::array();
            switch (elem_type) {
                case GgufType::kString:
                    for (const auto& s : strings) a.push_back(s);
                    break;
                case GgufType::kArray:
                    for (const auto& v : arrays) a.push_back(v.to_json());
                    break;
                case GgufType::kF32: case GgufType::kF64:
                    for (double f : floats) a.push_back(f);
                    break;
                case GgufType::kBool:
                    for (int64_t i : ints) a.push_back(i != 0);
                    break;
                default:
                    for (int64_t i : ints) a.push_back(i);
                    break;
            }
            return a;
        }
        default: return i64;
    }
}

// Cursor over the file with one error path: every read checks the remaining length first.
class GgufParser {
public:
    GgufParser(const uint8_t* p, size_t n, std::string name) : p_(p), n_(n), name_(std::move(name)) {}

    Status run(GgufFile& f);

private:
    Status fail(const std::string& what) const {
        return data_loss(name_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
    }
    bool need(uint64_t bytes) const { return bytes <= n_ - pos_; }
    template <typename T> Status read(T& out, const char* what) {
        if (!need(sizeof(T))) return fail(std::string("file truncated reading ") + what);
        std::memcpy(&out, p_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return Status::ok();
    }
    Status read_string(std::string& out, const std::string& what) {
        uint64_t len = 0;
        KITE_RETURN_IF_ERROR(read(len, "a string length"));
        if (!need(len)) {
            return fail(what + ": string length " + std::to_string(len) + " runs past the end of the file");
        }
        out.assign(reinterpret_cast<const char*>(p_ + pos_), len);
        pos_ += len;
        return Status::ok();
    }
    Status read_scalar(GgufType t, GgufValue& v, const std::string& key);
    Status read_array(GgufValue& v, const std::string& key, int depth);
    Status read_value(GgufType t, GgufValue& v, const std::string& key, int depth);
    Status read_tensor_info(GgufTensorInfo& ti, uint64_t index);

    const uint8_t* p_;
    size_t n_;
    std::string name_;
    size_t pos_ = 0;
};

Status GgufParser::read_scalar(GgufType t, GgufValue& v, const std::string& key) {
    v.type = t;
    const std::string what = "value of key '" + key + "'";
    switch (t) {
        case GgufType::kU8: { uint8_t x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.u64 = x; v.i64 = x; break; }
        case GgufType::kI8: { int8_t x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.i64 = x; v.u64 = static_cast<uint64_t>(x); break; }
        case GgufType::kU16: { uint16_t x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.u64 = x; v.i64 = x; break; }
        case GgufType::kI16: { int16_t x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.i64 = x; v.u64 = static_cast<uint64_t>(x); break; }
        case GgufType::kU32: { uint32_t x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.u64 = x; v.i64 = x; break; }
        case GgufType::kI32: { int32_t x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.i64 = x; v.u64 = static_cast<uint64_t>(x); break; }
        case GgufType::kU64: { uint64_t x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.u64 = x; v.i64 = static_cast<int64_t>(x); break; }
        case GgufType::kI64: { int64_t x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.i64 = x; v.u64 = static_cast<uint64_t>(x); break; }
        case GgufType::kF32: { float x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.f64 = x; break; }
        case GgufType::kF64: { double x{}; KITE_RETURN_IF_ERROR(read(x, what.c_str())); v.f64 = x; break; }
        case GgufType::kBool: {
            uint8_t x = 0;
            KITE_RETURN_IF_ERROR(read(x, what.c_str()));
            if (x > 1) return fail("key '" + key + "': bool value " + std::to_string(x) + ", expected 0 or 1");
            v.u64 = x;
            v.i64 = x;
            break;
        }
        case GgufType::kString: return read_string(v.str, "key '" + key + "'");
        case GgufType::kArray: return internal_error("read_scalar called for an array");
    }
    return Status::ok();
}

Status GgufParser::read_array(GgufValue& v, const std::string& key, int depth) {
    v.type = GgufType::kArray;
    if (depth > kMaxArrayDepth) {
        return fail("key '" + key + "': arrays nested deeper than " + std::to_string(kMaxArrayDepth));
    }
    uint32_t et = 0;
    uint64_t count = 0;
    KITE_RETURN_IF_ERROR(read(et, "an array element type"));
    if (!valid_type(et)) {
        return fail("key '" + key + "': unknown array element type " + std::to_string(et) + ", expected 0..12");
    }
    v.elem_type = static_cast<GgufType>(et);
    KITE_RETURN_IF_ERROR(read(count, "an array length"));
    // Each element takes at least this many bytes, so a count the file cannot hold is caught here,
    // before anything is allocated.
    const int64_t min_elem = v.elem_type == GgufType::kString  ? 8
                             : v.elem_type == GgufType::kArray ? 12
                                                               : scalar_size(v.elem_type);
    if (count > (n_ - pos_) / static_cast<uint64_t>(min_elem)) {
        return fail("key '" + key + "': array of " + std::to_string(count) + " " + gguf_type_name(v.elem_type) +
                    " elements does not fit in the rest of the file");
    }
    const uint8_t* q = p_ + pos_;
    switch (v.elem_type) {
        case GgufType::kString:
            v.strings.resize(count);
            for (uint64_t i = 0; i < count; ++i) {
                KITE_RETURN_IF_ERROR(read_string(v.strings[i], "key '" + key + "' element " + std::to_string(i)));
            }
            break;
        case GgufType::kArray:
            v.arrays.resize(count);
            for (uint64_t i = 0; i < count; ++i) {
                KITE_RETURN_IF_ERROR(read_array(v.arrays[i], key + "[" + std::to_string(i) + "]", depth + 1));
            }
            break;
        case GgufType::kF32: {
            v.floats.resize(count);
            for (uint64_t i = 0; i < count; ++i) {
                float x;
                std::memcpy(&x, q + 4 * i, 4);
                v.floats[i] = x;
            }
            pos_ += 4 * count;
            break;
        }
        case GgufType::kF64:
            v.floats.resize(count);
            if (count) std::memcpy(v.floats.data(), q, 8 * count);
            pos_ += 8 * count;
            break;
        default: {
            v.ints.resize(count);
            const int64_t sz = scalar_size(v.elem_type);
            for (uint64_t i = 0; i < count; ++i) {
                const uint8_t* e = q + sz * i;
                int64_t x = 0;
                switch (v.elem_type) {
                    case GgufType::kU8: x = e[0]; break;
                    case GgufType::kBool:
                        if (e[0] > 1) return fail("key '" + key + "': bool element is " + std::to_string(e[0]));
                        x = e[0];
                        break;
                    case GgufType::kI8: x = static_cast<int8_t>(e[0]); break;
                    case GgufType::kU16: { uint16_t t; std::memcpy(&t, e, 2); x = t; break; }
                    case GgufType::kI16: { int16_t t; std::memcpy(&t, e, 2); x = t; break; }
                    case GgufType::kU32: { uint32_t t; std::memcpy(&t, e, 4); x = t; break; }
                    case GgufType::kI32: { int32_t t; std::memcpy(&t, e, 4); x = t; break; }
                    default: std::memcpy(&x, e, 8); break;  // u64 / i64
                }
                v.ints[i] = x;
            }
            pos_ += sz * count;
            break;
        }
    }
    return Status::ok();
}

Status GgufParser::read_value(GgufType t, GgufValue& v, const std::string& key, int depth) {
    if (t == GgufType::kArray) return read_array(v, key, depth);
    return read_scalar(t, v, key);
}

Status GgufParser::read_tensor_info(GgufTensorInfo& ti, uint64_t index) {
    const std::string which = "tensor #" + std::to_string(index);
    KITE_RETURN_IF_ERROR(read_string(ti.name, which + " name"));
    if (ti.name.size() > kMaxNameLen) return fail(which + ": name longer than 64 KiB");
    const std::string tn = "tensor '" + ti.name + "'";
    uint32_t n_dims = 0;
    KITE_RETURN_IF_ERROR(read(n_dims, "a tensor's n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims) {
        return fail(tn + ": n_dims " + std::to_string(n_dims) + ", expected 1.." + std::to_string(kMaxDims));
    }
    ti.ne.resize(n_dims);
    // The product of the non-zero dimensions must fit too: a [0, 2^40, 2^40] shape has no elements,
    // but its shape products overflow in any code that multiplies the dimensions in another order.
    int64_t numel = 1, nonzero = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t ne = 0;
        KITE_RETURN_IF_ERROR(read(ne, "a tensor dimension"));
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return fail(tn + ": dimension " + std::to_string(d) + " is " + std::to_string(ne) + ", too large");
        }
        ti.ne[d] = static_cast<int64_t>(ne);
        if (ti.ne[d] == 0) {
            numel = 0;
            continue;
        }
        if (nonzero > std::numeric_limits<int64_t>::max() / ti.ne[d]) {
            return fail(tn + ": element count overflows 64 bits");
        }
        nonzero *= ti.ne[d];
        numel *= ti.ne[d];
    }
    ti.numel = numel;
    ti.shape.assign(ti.ne.rbegin(), ti.ne.rend());
    KITE_RETURN_IF_ERROR(read(ti.ggml_type, "a tensor type"));
    const GgmlTypeInfo* info = ggml_info(ti.ggml_type);
    if (info == nullptr) return fail(tn + ": unknown ggml type " + std::to_string(ti.ggml_type));
    if (ti.ne[0] % info->block_elems != 0) {
        return fail(tn + ": row length " + std::to_string(ti.ne[0]) + " is not a multiple of the " +
                    info->name + " block size " + std::to_string(info->block_elems));
    }
    const uint64_t blocks = static_cast<uint64_t>(numel / info->block_elems);
    if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(info->block_bytes)) {
        return fail(tn + ": byte size overflows 64 bits");
    }
    ti.nbytes = blocks * static_cast<uint64_t>(info->block_bytes);
    return read(ti.offset, "a tensor offset");
}

Status GgufParser::run(GgufFile& f) {
    uint32_t magic = 0;
    if (n_ < 4) return fail("file too short for a GGUF header (" + std::to_string(n_) + " bytes)");
    KITE_RETURN_IF_ERROR(read(magic, "the magic"));
    if (magic != kMagic) return fail("not a GGUF file (magic is not \"GGUF\")");
    KITE_RETURN_IF_ERROR(read(f.version_, "the version"));
    if (f.version_ == 0x02000000 || f.version_ == 0x03000000) {
        return fail("big-endian GGUF files are not supported");
    }
    if (f.version_ == 1) return fail("GGUF version 1 is not supported (expected 2 or 3)");
    if (f.version_ != 2 && f.version_ != 3) {
        return fail("unsupported GGUF version " + std::to_string(f.version_) + " (expected 2 or 3)");
    }
    uint64_t n_tensors = 0, n_kv = 0;
    KITE_RETURN_IF_ERROR(read(n_tensors, "the tensor count"));
    KITE_RETURN_IF_ERROR(read(n_kv, "the metadata count"));
    // A key/value takes at least 12 bytes (empty key + type + 1-byte value ~ 13), a tensor info 24.
    if (n_kv > (n_ - pos_) / 12) return fail("metadata count " + std::to_string(n_kv) + " exceeds what the file can hold");
    if (n_tensors > (n_ - pos_) / 24) {
        return fail("tensor count " + std::to_string(n_tensors) + " exceeds what the file can hold");
    }
    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string key;
        KITE_RETURN_IF_ERROR(read_string(key, "metadata key #" + std::to_string(i)));
        uint32_t t = 0;
        KITE_RETURN_IF_ERROR(read(t, "a metadata value type"));
        if (!valid_type(t)) {
            return fail("key '" + key + "': unknown value type " + std::to_string(t) + ", expected 0..12");
        }
        GgufValue v;
        KITE_RETURN_IF_ERROR(read_value(static_cast<GgufType>(t), v, key, 0));
        if (!f.kv_.emplace(key, std::move(v)).second) return fail("duplicate metadata key '" + key + "'");
    }
    if (const GgufValue* a = f.find("general.alignment")) {
        if (a->type != GgufType::kU32 && !a->is_int()) return fail("general.alignment is not an integer");
        if (a->i64 <= 0 || (a->i64 & (a->i64 - 1)) != 0 || a->i64 > (1 << 30)) {
            return fail("general.alignment is " + std::to_string(a->i64) + ", expected a power of two");
        }
        f.alignment_ = static_cast<uint64_t>(a->i64);
    }
    f.tensors_.resize(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        KITE_RETURN_IF_ERROR(read_tensor_info(f.tensors_[i], i));
        if (!f.tensor_index_.emplace(f.tensors_[i].name, i).second) {
            return fail("duplicate tensor name '" + f.tensors_[i].name + "'");
        }
    }
    const uint64_t data_start = (pos_ + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    if (n_tensors > 0 && data_start > n_) return fail("file truncated before the tensor data section");
    f.data_offset_ = data_start;
    const uint64_t data_size = n_ > data_start ? n_ - data_start : 0;
    for (auto& ti : f.tensors_) {
        const std::string tn = "tensor '" + ti.name + "'";
        if (ti.offset % f.alignment_ != 0) {
            return fail(tn + ": data offset " + std::to_string(ti.offset) + " is not a multiple of the alignment " +
                        std::to_string(f.alignment_));
        }
        if (ti.offset > data_size || ti.nbytes > data_size - ti.offset) {
            return fail(tn + ": data [" + std::to_string(ti.offset) + ", +" + std::to_string(ti.nbytes) +
                        ") runs past the end of the file (data section is " + std::to_string(data_size) + " bytes)");
        }
        ti.data = p_ + data_start + ti.offset;
    }
    return Status::ok();
}

Result<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, std::shared_ptr<void> owner,
                                 const std::string& name) {
    GgufFile f;
    f.path_ = name;
    f.owner_ = std::move(owner);
    f.base_ = data;
    f.size_ = size;
    GgufParser parser(data, size, name);
    KITE_RETURN_IF_ERROR(parser.run(f));
    return f;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return not_found(path + ": cannot open (" + std::strerror(errno) + ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return invalid_argument(path + ": not a regular file");
    }
    const size_t size = static_cast<size_t>(st.st_size);
    if (size == 0) {
        ::close(fd);
        return data_loss(path + ": empty file, expected a GGUF model");
    }
    // Read-only: a read-only private mapping costs no commit charge, so a file larger than RAM
    // still maps (pages come and go with the page cache). Writing through a tensor view faults.
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) return internal_error(path + ": mmap failed (" + std::strerror(errno) + ")");
    std::shared_ptr<void> owner(m, [size](void* p) { ::munmap(p, size); });
    return parse(static_cast<const uint8_t*>(m), size, std::move(owner), path);
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace kite
