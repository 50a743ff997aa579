// GPTQ / AWQ packed linears -> kite's integer weight-only layout (model/quant_checkpoint.h).
//
// Both formats mean W[n][k] = scale[g][n] * (q[k][n] - zero[g][n]), the product rounded to float16
// as their kernels compute it (so kite rounds too when the scales are float16):
//  - GPTQ: qweight int32 [K * bits / 32, N] packs consecutive inputs k of column n as a little-endian
//    bit stream (value k at bit k * bits; 3-bit values straddle words); qzeros int32
//    [groups, N * bits / 32] packs the zeros of a group along n the same way, v1 storing zero - 1;
//    scales [groups, N]; g_idx int32 [K] gives each input its group (act-order when not k / G).
//  - AWQ GEMM: qweight int32 [K, N / 8] packs 8 output columns per word, column j in nibble
//    kAwqNibble[j] (the order 0, 2, 4, 6, 1, 3, 5, 7); qzeros [groups, N / 8] alike, zeros as is.
#include "model/quant_checkpoint.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/weight_loader.h"
#include "ops/wq.h"

namespace kite {

namespace {

constexpr int kAwqNibble[8] = {0, 4, 1, 5, 2, 6, 3, 7};

std::string stem_of(const std::string& weight_name) {
    const std::string suffix = ".weight";
    if (weight_name.size() > suffix.size() && weight_name.compare(weight_name.size() - suffix.size(), suffix.size(), suffix) == 0)
        return weight_name.substr(0, weight_name.size() - suffix.size());
    return weight_name;
}

// Value i of a little-endian bit stream of `bits`-wide values held in 32-bit words at p[0], p[stride], ...
uint32_t stream_value(const int32_t* p, int64_t stride, int64_t i, int bits) {
    const int64_t bit = i * bits, word = bit / 32;
    const int shift = static_cast<int>(bit % 32);
    uint64_t v = static_cast<uint32_t>(p[word * stride]) >> shift;
    if (shift + bits > 32) v |= static_cast<uint64_t>(static_cast<uint32_t>(p[(word + 1) * stride])) << (32 - shift);
    return static_cast<uint32_t>(v & ((1u << bits) - 1));
}

Result<Tensor> get_tensor(const WeightSource& src, const std::string& name, DType want, const std::vector<int64_t>& shape) {
    if (!src.has(name)) return not_found("checkpoint has no tensor " + name + " (its quantization_config needs it)");
    KITE_ASSIGN_OR_RETURN(Tensor t, src.get(name));
    const std::string expected = Tensor::view(nullptr, want, shape, nullptr).shape_string();
    if (t.shape() != shape)
        return invalid_argument(src.location(name) + ": tensor " + name + " has shape " + t.shape_string() + ", expected " + expected);
    if (want == DType::kI32 && t.dtype() != DType::kI32)
        return invalid_argument(src.location(name) + ": tensor " + name + " is " + dtype_name(t.dtype()) + ", expected I32");
    return t;
}

// What the loader has read of one packed linear, in checkpoint terms ([K, N] orientation).
struct Unpacked {
    int64_t K = 0, N = 0, groups = 0, G = 0;
    std::vector<uint8_t> q;       // [K, N]
    std::vector<float> zeros;     // [groups, N]
    Tensor scales;                // f32 [groups, N]
    bool round_f16 = false;
    std::vector<int32_t> g_idx;   // [K]
};

Status unpack_gptq(const WeightSource& src, const CheckpointQuant& cq, const std::string& stem, Unpacked& u) {
    const int bits = cq.bits;
    if ((u.K * bits) % 32 != 0 || (u.N * bits) % 32 != 0)
        return invalid_argument(stem + ": " + std::to_string(bits) + "-bit GPTQ needs in/out features whose product with " +
                                std::to_string(bits) + " is a multiple of 32, got [" + std::to_string(u.N) + ", " + std::to_string(u.K) + "]");
    KITE_ASSIGN_OR_RETURN(Tensor qw, get_tensor(src, stem + ".qweight", DType::kI32, {u.K * bits / 32, u.N}));
    KITE_ASSIGN_OR_RETURN(Tensor qz, get_tensor(src, stem + ".qzeros", DType::kI32, {u.groups, u.N * bits / 32}));
    const int32_t* w = qw.data<int32_t>();
    u.q.resize(u.K * u.N);
    for (int64_t n = 0; n < u.N; ++n)
        for (int64_t k = 0; k < u.K; ++k) u.q[k * u.N + n] = static_cast<uint8_t>(stream_value(w + n, u.N, k, bits));
    const uint32_t mask = (1u << bits) - 1;
    u.zeros.resize(u.groups * u.N);
    for (int64_t g = 0; g < u.groups; ++g)
        for (int64_t n = 0; n < u.N; ++n) {
            uint32_t z = stream_value(qz.data<int32_t>() + g * (u.N * bits / 32), 1, n, bits);
            if (cq.zeros_minus_one) z = (z + 1) & mask;  // as GPTQ's own dequantization reads v1 zeros
            u.zeros[g * u.N + n] = static_cast<float>(z);
        }
    const std::string gi = stem + ".g_idx";
    if (src.has(gi)) {
        KITE_ASSIGN_OR_RETURN(Tensor t, get_tensor(src, gi, DType::kI32, {u.K}));
        u.g_idx.assign(t.data<int32_t>(), t.data<int32_t>() + u.K);
    }
    return Status::ok();
}

Status unpack_awq(const WeightSource& src, const CheckpointQuant& cq, const std::string& stem, Unpacked& u) {
    if (u.N % 8 != 0) return invalid_argument(stem + ": AWQ needs out features divisible by 8, got " + std::to_string(u.N));
    KITE_ASSIGN_OR_RETURN(Tensor qw, get_tensor(src, stem + ".qweight", DType::kI32, {u.K, u.N / 8}));
    u.q.resize(u.K * u.N);
    for (int64_t k = 0; k < u.K; ++k)
        for (int64_t n = 0; n < u.N; ++n) {
            const uint32_t word = static_cast<uint32_t>(qw.data<int32_t>()[k * (u.N / 8) + n / 8]);
            u.q[k * u.N + n] = static_cast<uint8_t>((word >> (4 * kAwqNibble[n % 8])) & 15);
        }
    u.zeros.assign(u.groups * u.N, 8.0f);  // zero_point false: symmetric around the midpoint
    if (cq.zero_point) {
        KITE_ASSIGN_OR_RETURN(Tensor qz, get_tensor(src, stem + ".qzeros", DType::kI32, {u.groups, u.N / 8}));
        for (int64_t g = 0; g < u.groups; ++g)
            for (int64_t n = 0; n < u.N; ++n) {
                const uint32_t word = static_cast<uint32_t>(qz.data<int32_t>()[g * (u.N / 8) + n / 8]);
                u.zeros[g * u.N + n] = static_cast<float>((word >> (4 * kAwqNibble[n % 8])) & 15);
            }
    }
    return Status::ok();
}

// The dense f32 weight [N, K] for group assignments kite's packed layout cannot express.
Weight dense_from(const Unpacked& u) {
    Tensor out = Tensor::zeros(DType::kF32, {u.N, u.K});
    for (int64_t n = 0; n < u.N; ++n)
        for (int64_t k = 0; k < u.K; ++k) {
            const int64_t g = u.g_idx[k];
            out.data<float>()[n * u.K + k] = ops::int_weight_value(u.scales.data<float>()[g * u.N + n], u.q[k * u.N + n],
                                                                   u.zeros[g * u.N + n], u.round_f16);
        }
    return Weight{out};
}

}  // namespace

Result<CheckpointQuant> parse_checkpoint_quant(const nlohmann::json& config, const std::string& source) {
    CheckpointQuant q;
    auto it = config.find("quantization_config");
    if (it == config.end() || it->is_null()) return q;
    const nlohmann::json& j = *it;
    const std::string where = source + ": quantization_config";
    if (!j.is_object()) return invalid_argument(where + " must be an object");
    auto get_int = [&](const char* key, int64_t fallback) -> Result<int64_t> {
        auto f = j.find(key);
        if (f == j.end() || f->is_null()) return fallback;
        if (!f->is_number_integer()) return invalid_argument(where + "." + key + " must be an integer");
        return f->get<int64_t>();
    };
    auto get_bool = [&](const char* key, bool fallback) -> Result<bool> {
        auto f = j.find(key);
        if (f == j.end() || f->is_null()) return fallback;
        if (!f->is_boolean()) return invalid_argument(where + "." + key + " must be true or false");
        return f->get<bool>();
    };
    auto get_str = [&](const char* key, const std::string& fallback) -> Result<std::string> {
        auto f = j.find(key);
        if (f == j.end() || f->is_null()) return fallback;
        if (!f->is_string()) return invalid_argument(where + "." + key + " must be a string");
        return f->get<std::string>();
    };
    KITE_ASSIGN_OR_RETURN(std::string method, get_str("quant_method", ""));
    std::transform(method.begin(), method.end(), method.begin(), ::tolower);
    KITE_ASSIGN_OR_RETURN(int64_t bits, get_int("bits", method == "awq" ? 4 : 0));
    KITE_ASSIGN_OR_RETURN(int64_t group, get_int("group_size", method == "awq" ? 128 : -1));
    // AWQ writes its bit width as w_bit / q_group_size in older configs.
    if (method == "awq") {
        KITE_ASSIGN_OR_RETURN(bits, get_int("w_bit", bits));
        KITE_ASSIGN_OR_RETURN(group, get_int("q_group_size", group));
    }
    if (group == 0 || group < -1) return invalid_argument(where + ".group_size must be positive or -1, got " + std::to_string(group));
    q.bits = static_cast<int>(bits);
    q.group_size = group;
    if (method == "gptq") {
        q.method = CheckpointQuant::Method::kGptq;
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
            return unimplemented(where + ".bits = " + std::to_string(bits) + " is not supported (GPTQ: 2, 3, 4 or 8)");
        KITE_ASSIGN_OR_RETURN(q.sym, get_bool("sym", true));
        KITE_ASSIGN_OR_RETURN(q.desc_act, get_bool("desc_act", false));
        KITE_ASSIGN_OR_RETURN(std::string fmt, get_str("checkpoint_format", "gptq"));
        KITE_ASSIGN_OR_RETURN(fmt, get_str("format", fmt));  // GPTQModel's newer spelling
        if (fmt == "gptq") q.zeros_minus_one = true;
        else if (fmt == "gptq_v2") q.zeros_minus_one = false;
        else return unimplemented(where + ": checkpoint_format '" + fmt + "' is not supported (expected gptq or gptq_v2)");
        return q;
    }
    if (method == "awq") {
        q.method = CheckpointQuant::Method::kAwq;
        if (bits != 4) return unimplemented(where + ".bits = " + std::to_string(bits) + " is not supported (AWQ GEMM: 4)");
        KITE_ASSIGN_OR_RETURN(q.zero_point, get_bool("zero_point", true));
        KITE_ASSIGN_OR_RETURN(std::string version, get_str("version", "gemm"));
        std::transform(version.begin(), version.end(), version.begin(), ::tolower);
        if (version != "gemm") return unimplemented(where + ".version '" + version + "' is not supported (expected gemm)");
        return q;
    }
    return unimplemented(where + ".quant_method '" + method + "' is not supported (kite loads gptq and awq checkpoints)");
}

bool has_packed_linear(const WeightSource& source, const std::string& weight_name) {
    return source.has(stem_of(weight_name) + ".qweight");
}

Result<Weight> load_packed_linear(const WeightSource& src, const CheckpointQuant& cq, const std::string& weight_name,
                                  int64_t rows, int64_t in) {
    const std::string stem = stem_of(weight_name);
    if (cq.method == CheckpointQuant::Method::kNone)
        return invalid_argument(src.location(stem + ".qweight") + ": " + stem +
                                ".qweight is packed but config.json has no quantization_config");
    Unpacked u;
    u.K = in;
    u.N = rows;
    u.G = cq.group_size > 0 && cq.group_size < in ? cq.group_size : in;
    u.groups = (in + u.G - 1) / u.G;
    KITE_RETURN_IF_ERROR(cq.method == CheckpointQuant::Method::kGptq ? unpack_gptq(src, cq, stem, u) : unpack_awq(src, cq, stem, u));
    KITE_ASSIGN_OR_RETURN(Tensor sc, get_tensor(src, stem + ".scales", DType::kF32, {u.groups, rows}));
    u.round_f16 = sc.dtype() == DType::kF16;
    KITE_ASSIGN_OR_RETURN(u.scales, to_f32(sc, src.location(stem + ".scales") + ": tensor " + stem + ".scales"));
    // Each input's group: g_idx when the checkpoint has one, else k / G.
    bool trivial = true;
    if (u.g_idx.empty()) {
        u.g_idx.resize(in);
        for (int64_t k = 0; k < in; ++k) u.g_idx[k] = static_cast<int32_t>(k / u.G);
    }
    for (int64_t k = 0; k < in; ++k) {
        if (u.g_idx[k] < 0 || u.g_idx[k] >= u.groups)
            return invalid_argument(src.location(stem + ".g_idx") + ": " + stem + ".g_idx[" + std::to_string(k) + "] = " +
                                    std::to_string(u.g_idx[k]) + " is outside [0, " + std::to_string(u.groups) + ")");
        trivial = trivial && u.g_idx[k] == k / u.G;
    }
    // Act-order: sort inputs by group; kite's layout takes it when groups then fill runs of G.
    std::vector<int32_t> perm(in);
    std::iota(perm.begin(), perm.end(), 0);
    if (!trivial) {
        std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return u.g_idx[a] < u.g_idx[b]; });
        for (int64_t i = 0; i < in; ++i)
            if (u.g_idx[perm[i]] != i / u.G) return dense_from(u);
    }
    if (u.G != in && u.G % 8 != 0) return dense_from(u);
    std::vector<uint8_t> q(rows * in);
    for (int64_t n = 0; n < rows; ++n)
        for (int64_t i = 0; i < in; ++i) q[n * in + i] = u.q[perm[i] * rows + n];
    Tensor scales = Tensor::zeros(DType::kF32, {rows, u.groups}), zeros = Tensor::zeros(DType::kF32, {rows, u.groups});
    for (int64_t g = 0; g < u.groups; ++g)
        for (int64_t n = 0; n < rows; ++n) {
            scales.data<float>()[n * u.groups + g] = u.scales.data<float>()[g * rows + n];
            zeros.data<float>()[n * u.groups + g] = u.zeros[g * rows + n];
        }
    Tensor perm_t;
    if (!trivial) {
        perm_t = Tensor::zeros(DType::kI32, {in});
        std::copy(perm.begin(), perm.end(), perm_t.data<int32_t>());
    }
    return ops::make_int_weight(cq.bits, rows, in, u.G, q, std::move(scales), std::move(zeros), u.round_f16, perm_t, stem);
}

}  // namespace kite
