// GPTQ / AWQ packing beyond the shared checkpoints: the test packs random q, zeros and scales the
// way each format's spec says (its own bit-stream packer, AWQ's 0 2 4 6 1 3 5 7 column order, v1's
// zero - 1), loads them through load_packed_linear, and compares the weight with its own
// float16(scale * (q - zero)). Covers 2, 3, 4 and 8 bits, sym / asym, group sizes 32, 64 and -1,
// act-order whose groups are contiguous after sorting and one whose are not, gptq_v2, AWQ with
// and without zero points, and the config errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "model/quant_checkpoint.h"
#include "ops/wq.h"

namespace kite {
namespace {

class MapSource final : public WeightSource {
public:
    std::map<std::string, Tensor> tensors;
    nlohmann::json config, none;
    bool has(const std::string& n) const override { return tensors.count(n) > 0; }
    Result<Tensor> get(const std::string& n) const override {
        auto it = tensors.find(n);
        if (it == tensors.end()) return not_found(n);
        return it->second;
    }
    std::string location(const std::string&) const override { return "test.safetensors"; }
    const nlohmann::json& config_json() const override { return config; }
    const nlohmann::json& generation_config_json() const override { return none; }
};

// Writes value v as element i of a little-endian bit stream of `bits`-wide values in 32-bit words.
void put_bits(std::vector<uint32_t>& words, int64_t i, int bits, uint32_t v) {
    for (int b = 0; b < bits; ++b) {
        const int64_t bit = i * bits + b;
        if ((v >> b) & 1) words[bit / 32] |= 1u << (bit % 32);
    }
}

Tensor i32_tensor(const std::vector<uint32_t>& v, std::vector<int64_t> shape) {
    Tensor t = Tensor::zeros(DType::kI32, std::move(shape));
    std::memcpy(t.raw(), v.data(), v.size() * 4);
    return t;
}

struct Spec {
    bool awq = false;
    int bits = 4;
    int64_t group = 32;  // -1: one group
    bool v2 = false;     // gptq_v2: zeros stored as they are
    bool awq_zero_point = true;
    enum { kNoGidx, kTrivialGidx, kPermutedGroups, kScattered } gidx = kTrivialGidx;
};

// Packs a random [N, K] layer into `src` under `stem`; returns the weight the test expects.
std::vector<float> pack_layer(MapSource& src, const std::string& stem, const Spec& s, int64_t N, int64_t K, uint32_t seed) {
    std::mt19937 gen(seed);
    const int64_t G = s.group > 0 ? s.group : K, groups = (K + G - 1) / G;
    const uint32_t qmax = (1u << s.bits) - 1;
    // Group of each input: k / G, or a permutation of those assignments (act-order).
    std::vector<int32_t> g_idx(K);
    for (int64_t k = 0; k < K; ++k) g_idx[k] = static_cast<int32_t>(k / G);
    if (s.gidx == Spec::kPermutedGroups || s.gidx == Spec::kScattered) std::shuffle(g_idx.begin(), g_idx.end(), gen);
    if (s.gidx == Spec::kScattered)  // group 0 gets one input more than G: no runs of G after sorting
        *std::find_if(g_idx.begin(), g_idx.end(), [](int32_t g) { return g != 0; }) = 0;
    std::vector<uint32_t> q(K * N), z(groups * N);
    std::vector<uint16_t> sc(groups * N);
    for (auto& v : q) v = gen() % (qmax + 1);
    for (auto& v : z) v = gen() % (qmax + 1);
    z[0] = 0;  // zero 0: GPTQ v1 stores it as all ones, which reads back as 0
    for (auto& v : sc) v = f32_to_f16(0.001f + (gen() % 1000) * 1e-5f);
    if (s.awq && !s.awq_zero_point)
        for (auto& v : z) v = 8;
    std::vector<float> dense(N * K);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) {
            const int64_t g = g_idx[k];
            const float v = f16_to_f32(sc[g * N + n]) * (float(q[k * N + n]) - float(z[g * N + n]));
            dense[n * K + k] = f16_to_f32(f32_to_f16(v));
        }
    Tensor scales = Tensor::zeros(DType::kF16, {groups, N});
    std::memcpy(scales.raw(), sc.data(), sc.size() * 2);
    src.tensors[stem + ".scales"] = scales;
    if (s.awq) {
        const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};  // nibble i holds column order[i]
        std::vector<uint32_t> qw(K * N / 8, 0), qz(groups * N / 8, 0);
        for (int64_t k = 0; k < K; ++k)
            for (int64_t c = 0; c < N / 8; ++c)
                for (int i = 0; i < 8; ++i) qw[k * (N / 8) + c] |= q[k * N + 8 * c + order[i]] << (4 * i);
        for (int64_t g = 0; g < groups; ++g)
            for (int64_t c = 0; c < N / 8; ++c)
                for (int i = 0; i < 8; ++i) qz[g * (N / 8) + c] |= z[g * N + 8 * c + order[i]] << (4 * i);
        src.tensors[stem + ".qweight"] = i32_tensor(qw, {K, N / 8});
        if (s.awq_zero_point) src.tensors[stem + ".qzeros"] = i32_tensor(qz, {groups, N / 8});
        return dense;
    }
    const int64_t rows = K * s.bits / 32, zcols = N * s.bits / 32;
    std::vector<uint32_t> qw(rows * N, 0), qz(groups * zcols, 0);
    for (int64_t n = 0; n < N; ++n) {
        std::vector<uint32_t> col(rows, 0);
        for (int64_t k = 0; k < K; ++k) put_bits(col, k, s.bits, q[k * N + n]);
        for (int64_t r = 0; r < rows; ++r) qw[r * N + n] = col[r];
    }
    for (int64_t g = 0; g < groups; ++g) {
        std::vector<uint32_t> row(zcols, 0);
        for (int64_t n = 0; n < N; ++n) put_bits(row, n, s.bits, s.v2 ? z[g * N + n] : (z[g * N + n] - 1) & qmax);
        std::copy(row.begin(), row.end(), qz.begin() + g * zcols);
    }
    src.tensors[stem + ".qweight"] = i32_tensor(qw, {rows, N});
    src.tensors[stem + ".qzeros"] = i32_tensor(qz, {groups, zcols});
    if (s.gidx != Spec::kNoGidx)
        src.tensors[stem + ".g_idx"] = i32_tensor(std::vector<uint32_t>(g_idx.begin(), g_idx.end()), {K});
    return dense;
}

nlohmann::json config_for(const Spec& s) {
    if (s.awq) return {{"quantization_config", {{"quant_method", "awq"}, {"bits", 4}, {"group_size", s.group},
                                                {"zero_point", s.awq_zero_point}, {"version", "gemm"}}}};
    return {{"quantization_config", {{"quant_method", "gptq"}, {"bits", s.bits}, {"group_size", s.group},
                                     {"desc_act", s.gidx >= Spec::kPermutedGroups}, {"sym", false},
                                     {"checkpoint_format", s.v2 ? "gptq_v2" : "gptq"}}}};
}

void check(const Spec& s, int64_t N, int64_t K, bool expect_packed, uint32_t seed) {
    MapSource src;
    src.config = config_for(s);
    const std::vector<float> want = pack_layer(src, "layer", s, N, K, seed);
    auto cq = parse_checkpoint_quant(src.config, "config.json");
    ASSERT_TRUE(cq.ok()) << cq.status().message();
    ASSERT_TRUE(has_packed_linear(src, "layer.weight"));
    auto w = load_packed_linear(src, *cq, "layer.weight", N, K);
    ASSERT_TRUE(w.ok()) << w.status().message();
    EXPECT_EQ(w->is_int_quantized(), expect_packed);
    const Tensor got = w->is_int_quantized() ? ops::dequantize_weight(*w) : w->t;
    ASSERT_EQ(got.numel(), N * K);
    for (int64_t i = 0; i < N * K; ++i) ASSERT_EQ(got.data<float>()[i], want[i]) << "element " << i;
}

TEST(QuantFormats, GptqBitWidthsGroupsAndActOrder) {
    uint32_t seed = 1;
    for (int bits : {2, 3, 4, 8})
        for (int64_t group : {int64_t(32), int64_t(64), int64_t(-1)})
            for (auto gidx : {Spec::kNoGidx, Spec::kTrivialGidx, Spec::kPermutedGroups}) {
                SCOPED_TRACE("bits " + std::to_string(bits) + " group " + std::to_string(group) + " g_idx " + std::to_string(gidx));
                Spec s;
                s.bits = bits, s.group = group, s.gidx = gidx;
                check(s, 64, 192, true, seed++);
            }
}

TEST(QuantFormats, GptqV2AndScatteredGroupsFallBackToDense) {
    Spec v2;
    v2.v2 = true;
    check(v2, 32, 128, true, 5);
    Spec scattered;
    scattered.gidx = Spec::kScattered;
    check(scattered, 32, 128, false, 6);
}

TEST(QuantFormats, AwqWithAndWithoutZeroPoints) {
    for (bool zp : {true, false})
        for (int64_t group : {int64_t(32), int64_t(128)}) {
            Spec s;
            s.awq = true, s.awq_zero_point = zp, s.group = group;
            check(s, 48, 256, true, 10 + group + zp);
        }
}

TEST(QuantFormats, ShapeMismatchIsAnError) {
    MapSource src;
    Spec s;
    src.config = config_for(s);
    pack_layer(src, "layer", s, 32, 128, 1);
    auto cq = parse_checkpoint_quant(src.config, "config.json");
    auto w = load_packed_linear(src, *cq, "layer.weight", 32, 256);  // the model expects more inputs
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.status().message().find("layer.qweight"), std::string::npos) << w.status().message();
}

TEST(QuantFormats, UnsupportedConfigsAreClearErrors) {
    const std::pair<nlohmann::json, std::string> cases[] = {
        {{{"quant_method", "bitsandbytes"}}, "quant_method 'bitsandbytes'"},
        {{{"quant_method", "gptq"}, {"bits", 5}, {"group_size", 128}}, "bits = 5"},
        {{{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 0}}, "group_size"},
        {{{"quant_method", "gptq"}, {"bits", 4}, {"checkpoint_format", "marlin"}}, "checkpoint_format 'marlin'"},
        {{{"quant_method", "awq"}, {"bits", 4}, {"version", "gemv"}}, "version 'gemv'"},
        {{{"quant_method", "gptq"}, {"bits", "4"}}, "bits must be an integer"},
        {{{"quant_method", "gptq"}, {"bits", 4}, {"sym", "yes"}}, "sym must be true or false"},
    };
    for (const auto& [qc, message] : cases) {
        auto r = parse_checkpoint_quant(nlohmann::json{{"quantization_config", qc}}, "config.json");
        ASSERT_FALSE(r.ok()) << qc.dump();
        EXPECT_NE(r.status().message().find(message), std::string::npos) << r.status().message();
    }
    auto none = parse_checkpoint_quant(nlohmann::json{{"hidden_size", 8}}, "config.json");
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->method, CheckpointQuant::Method::kNone);
}

}  // namespace
}  // namespace kite
