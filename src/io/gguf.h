// GGUF (llama.cpp's model file, versions 2 and 3): header, typed metadata, tensor infos, and the
// tensor data memory-mapped in place. Parsing checks every count, length and offset against the
// file, so a corrupt or truncated file gives one Status naming the file and the key or tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"

namespace kite {

// GGUF metadata value types, numbered as in the file format.
enum class GgufType : uint32_t {
    kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
    kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars live in the scalar fields; an array keeps its elements in one of
// three compact forms chosen by elem_type, so a 150k-entry token list stays one vector<string>.
struct GgufValue {
    GgufType type = GgufType::kU8;

    // Scalars: integers (and bool) in i64 / u64 (both set when representable), floats in f64.
    int64_t i64 = 0;
    uint64_t u64 = 0;
    double f64 = 0;
    std::string str;

    // Arrays (type == kArray): elem_type tells which of these holds the elements.
    GgufType elem_type = GgufType::kU8;
    std::vector<int64_t> ints;       // any integer or bool element type (u64 above 2^63 wraps)
    std::vector<double> floats;      // f32 / f64 elements
    std::vector<std::string> strings;  // string elements
    std::vector<GgufValue> arrays;   // nested arrays

    bool is_int() const;     // any integer scalar type (not bool)
    bool is_float() const;   // f32 / f64 scalar
    bool is_array() const { return type == GgufType::kArray; }
    uint64_t array_size() const;
    nlohmann::json to_json() const;
};

// ggml tensor types (the file's numbering). Names and block sizes cover every type ggml knows,
// so a file holding a type kite cannot compute on still parses; only loading that tensor fails.
const char* ggml_type_name(uint32_t ggml_type);  // "q4_K"; "unknown" if not a ggml type
// kite's DType for a ggml type, or an Unimplemented status for types kite does not compute on.
Result<DType> dtype_from_ggml(uint32_t ggml_type);
uint32_t ggml_type_from_dtype(DType t);

struct GgufTensorInfo {
    std::string name;
    std::vector<int64_t> ne;     // ggml order: ne[0] is the contiguous (fastest) dimension
    std::vector<int64_t> shape;  // row-major order, i.e. ne reversed ([out, in] for a weight)
    uint32_t ggml_type = 0;
    uint64_t offset = 0;  // from the start of the data section
    uint64_t nbytes = 0;
    int64_t numel = 0;
    const uint8_t* data = nullptr;  // into the mapping; valid while the GgufFile lives
};

class GgufFile {
public:
    // Memory-maps `path` and parses it. Tensor data is not read until it is used.
    static Result<GgufFile> open(const std::string& path);
    // Parses a buffer (fuzzing, tests). `owner` keeps `data` alive (may be null if the caller does);
    // `name` is used in error messages.
    static Result<GgufFile> parse(const uint8_t* data, size_t size, std::shared_ptr<void> owner,
                                  const std::string& name);

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
    size_t file_size() const { return size_; }

    // Keys in sorted order (the file's order carries no meaning); values as parsed.
    const std::map<std::string, GgufValue>& metadata() const { return kv_; }
    const GgufValue* find(const std::string& key) const;
    bool has(const std::string& key) const { return find(key) != nullptr; }
    // Typed getters: NotFound if absent, InvalidArgument naming the key if the type is wrong.
    // Integers accept any integer type whose value fits; floats accept f32/f64 and integers.
    Result<std::string> get_string(const std::string& key) const;
    Result<int64_t> get_int(const std::string& key) const;
    Result<double> get_float(const std::string& key) const;
    Result<bool> get_bool(const std::string& key) const;
    // Arrays: a pointer into the parsed value (no copy); error if absent or of another elem type.
    Result<const std::vector<std::string>*> get_strings(const std::string& key) const;
    Result<const std::vector<int64_t>*> get_ints(const std::string& key) const;
    Result<const std::vector<double>*> get_floats(const std::string& key) const;
    // The whole metadata as one JSON object, built on first use (token lists become JSON arrays;
    // strings are kept byte for byte, so dump() needs error_handler_t::replace for odd vocabularies).
    const nlohmann::json& metadata_json() const;

    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(const std::string& name) const;
    // A Tensor viewing the mapped bytes (shape row-major, kite dtype); keeps the mapping alive.
    // The mapping is read-only: the view's memory must not be written.
    // Unimplemented for ggml types kite does not support, NotFound for a missing name.
    Result<Tensor> tensor(const std::string& name) const;

private:
    std::string path_;
    std::shared_ptr<void> owner_;
    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::map<std::string, GgufValue> kv_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, size_t> tensor_index_;
    // metadata_json() is built once on first use; the mutex is shared so GgufFile stays movable.
    mutable std::shared_ptr<std::mutex> json_mu_ = std::make_shared<std::mutex>();
    mutable std::shared_ptr<nlohmann::json> json_;

    friend class GgufParser;
};

}  // namespace kite
