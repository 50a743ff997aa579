// The blocks on their own against independent math written here: norms (RMS, Gemma's 1 + w,
// LayerNorm with and without bias, fused add), the fused-q/k/v row orders, a linear with stacked
// parts, biases and a row order, an MLP, attention (GQA, causal softmax, ALiBi, soft-cap, sliding
// window, q/k norm) and the longrope rotary table.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "model/blocks/attention.h"
#include "model/blocks/mlp.h"
#include "model/blocks/norm.h"
#include "model/rotary.h"
#include "ops/ops.h"

namespace kite {
namespace {

// Named f32 tensors in memory.
class MapSource final : public WeightSource {
public:
    std::map<std::string, Tensor> t;
    bool has(const std::string& n) const override { return t.count(n) > 0; }
    Result<Tensor> get(const std::string& n) const override {
        auto it = t.find(n);
        if (it == t.end()) return not_found(n);
        return it->second;
    }
    std::string location(const std::string&) const override { return "memory"; }
    const nlohmann::json& config_json() const override { return null_; }
    const nlohmann::json& generation_config_json() const override { return null_; }
    Tensor& add(const std::string& n, std::vector<int64_t> shape, std::mt19937& g) {
        Tensor x = Tensor::zeros(DType::kF32, shape);
        std::normal_distribution<float> d(0.0f, 0.5f);
        for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(g);
        return t[n] = x;
    }

private:
    nlohmann::json null_;
};

Tensor random(std::vector<int64_t> shape, std::mt19937& g) {
    Tensor x = Tensor::zeros(DType::kF32, shape);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(g);
    return x;
}

TEST(Blocks, NormsMatchTheirFormulas) {
    std::mt19937 g(1);
    MapSource src;
    const int64_t n = 8;
    const float* w = src.add("n.weight", {n}, g).data<float>();
    const float* b = src.add("n.bias", {n}, g).data<float>();
    WeightLoader loader(&src, {});
    Tensor x = random({3, n}, g);
    for (int kind = 0; kind < 4; ++kind) {
        NormSpec spec = kind == 0 ? NormSpec::rms("n", 1e-5f) : kind == 1 ? NormSpec::rms("n", 1e-5f, 1.0f)
                        : NormSpec::layer("n", 1e-5f, kind == 2);
        auto norm = Norm::load(spec, loader, n);
        ASSERT_TRUE(norm.ok()) << norm.status().message();
        Tensor out = Tensor::zeros(DType::kF32, {3, n});
        ASSERT_TRUE(norm->forward(x, out).is_ok());
        for (int r = 0; r < 3; ++r) {
            const float* xr = x.data<float>() + r * n;
            double mean = 0, sq = 0;
            for (int i = 0; i < n; ++i) mean += xr[i] / n;
            for (int i = 0; i < n; ++i) sq += (kind < 2 ? xr[i] * xr[i] : (xr[i] - mean) * (xr[i] - mean)) / n;
            for (int i = 0; i < n; ++i) {
                double want = kind < 2 ? xr[i] / std::sqrt(sq + 1e-5) * (w[i] + (kind == 1 ? 1.0 : 0.0))
                                       : (xr[i] - mean) / std::sqrt(sq + 1e-5) * w[i] + (kind == 2 ? b[i] : 0.0);
                EXPECT_NEAR(out.data<float>()[r * n + i], want, 1e-5) << "kind " << kind;
            }
        }
        // Fused add: residual += y; out = norm(residual).
        Tensor res = random({3, n}, g), y = random({3, n}, g), sum = Tensor::zeros(DType::kF32, {3, n});
        for (int64_t i = 0; i < sum.numel(); ++i) sum.data<float>()[i] = res.data<float>()[i] + y.data<float>()[i];
        Tensor a = Tensor::zeros(DType::kF32, {3, n}), c = Tensor::zeros(DType::kF32, {3, n});
        ASSERT_TRUE(norm->add_forward(res, y, a).is_ok());
        ASSERT_TRUE(norm->forward(sum, c).is_ok());
        for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data<float>()[i], c.data<float>()[i], 1e-6);
    }
}

TEST(Blocks, FusedQkvRowOrders) {
    // Per head [q_h | k_h | v_h], 2 heads of 2 rows: q = rows 0 1 6 7, k = 2 3 8 9, v = 4 5 10 11.
    EXPECT_EQ(qkv_order_per_head(2, 2), (std::vector<int64_t>{0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11}));
    // Falcon kv groups of [q q k v] (2 groups, 2 queries each, head_dim 1): rows g*4 + {0,1 | 2 | 3}.
    EXPECT_EQ(qkv_order_per_group(2, 2, 1), (std::vector<int64_t>{0, 1, 4, 5, 2, 6, 3, 7}));
    const auto o = qkv_order_per_group(3, 1, 2);  // one query per group = per head
    EXPECT_EQ(o, qkv_order_per_head(3, 2));
    const auto inv = inverse_order(o);
    for (size_t i = 0; i < o.size(); ++i) EXPECT_EQ(inv[o[i]], static_cast<int64_t>(i));
}

TEST(Blocks, LinearStacksBiasesAndReorders) {
    std::mt19937 g(2);
    MapSource src;
    src.add("a.weight", {2, 3}, g);
    src.add("b.weight", {1, 3}, g);
    src.add("a.bias", {2}, g);
    src.add("b.bias", {1}, g);
    WeightLoader loader(&src, {});
    LinearSpec spec = LinearSpec::of({"a", "b"}, {2, 1}, 3, true);
    spec.row_order = {2, 0, 1};
    auto lin = Linear::load(spec, loader);
    ASSERT_TRUE(lin.ok()) << lin.status().message();
    Tensor x = random({2, 3}, g), out = Tensor::zeros(DType::kF32, {2, 3});
    ASSERT_TRUE(lin->forward(x, out).is_ok());
    // Stacked rows: a0, a1, b0; reordered: b0, a0, a1.
    const std::vector<std::pair<std::string, int>> rows = {{"b", 0}, {"a", 0}, {"a", 1}};
    for (int t = 0; t < 2; ++t)
        for (int r = 0; r < 3; ++r) {
            const Tensor& w = src.t[rows[r].first + ".weight"];
            double want = src.t[rows[r].first + ".bias"].data<float>()[rows[r].second];
            for (int i = 0; i < 3; ++i) want += x.data<float>()[t * 3 + i] * w.data<float>()[rows[r].second * 3 + i];
            EXPECT_NEAR(out.data<float>()[t * 3 + r], want, 1e-5);
        }
}

TEST(Blocks, PlainGeluMlp) {
    std::mt19937 g(3);
    MapSource src;
    src.add("fc.weight", {4, 2}, g);
    src.add("fc.bias", {4}, g);
    src.add("proj.weight", {2, 4}, g);
    src.add("proj.bias", {2}, g);
    WeightLoader loader(&src, {});
    MlpSpec spec{LinearSpec::of({"fc"}, {4}, 2, true), LinearSpec::of({"proj"}, {2}, 4, true), false, "gelu"};
    auto mlp = MlpBlock::load(spec, loader);
    ASSERT_TRUE(mlp.ok()) << mlp.status().message();
    Tensor x = random({1, 2}, g), out = Tensor::zeros(DType::kF32, {1, 2});
    ForwardBatch batch;
    auto kv = KvCache::create({1, 1, 1, 1, 1});
    Workspace ws(Device::kCpu);
    StepContext ctx{batch, *kv, ws, {}};
    ASSERT_TRUE((*mlp)->forward(x, ctx, out).is_ok());
    const float* W1 = src.t["fc.weight"].data<float>();
    const float* W2 = src.t["proj.weight"].data<float>();
    for (int o = 0; o < 2; ++o) {
        double want = src.t["proj.bias"].data<float>()[o];
        for (int j = 0; j < 4; ++j) {
            double h = src.t["fc.bias"].data<float>()[j] + W1[j * 2] * x.data<float>()[0] + W1[j * 2 + 1] * x.data<float>()[1];
            want += W2[o * 4 + j] * 0.5 * h * (1 + std::erf(h / std::sqrt(2.0)));
        }
        EXPECT_NEAR(out.data<float>()[o], want, 1e-5);
    }
    MlpSpec bad = spec;
    bad.act = "swishy";
    EXPECT_FALSE(MlpBlock::load(bad, loader).ok());
}

// Attention over 5 tokens of one sequence, 4 query heads sharing 2 kv heads, identity-free
// projections, checked against softmax(q.k * scale [soft-capped] + alibi) v computed here.
TEST(Blocks, AttentionMatchesNaiveCausalSoftmax) {
    const int T = 5, nh = 4, nkv = 2, D = 4, H = 8;
    for (int variant = 0; variant < 4; ++variant) {
        std::mt19937 g(10 + variant);
        MapSource src;
        for (const char* n : {"q", "k", "v"}) src.add(std::string(n) + ".weight", {(n[0] == 'q' ? nh : nkv) * D, H}, g);
        src.add("o.weight", {H, nh * D}, g);
        src.add("kn.weight", {D}, g);
        WeightLoader loader(&src, {});
        AttentionSpec spec;
        spec.num_heads = nh;
        spec.num_kv_heads = nkv;
        spec.head_dim = D;
        spec.qkv = LinearSpec::of({"q", "k", "v"}, {nh * D, nkv * D, nkv * D}, H, false);
        spec.o = LinearSpec::of({"o"}, {H}, nh * D, false);
        spec.scale = 0.3f;
        if (variant == 1) spec.softcap = 1.5f;
        if (variant == 2) spec.alibi_slopes = {0.5f, 0.25f, 0.125f, 0.0625f};
        if (variant == 3) {
            spec.sliding_window = 2;
            spec.k_norm = NormSpec::rms("kn", 1e-6f);
        }
        auto block = AttentionBlock::load(spec, loader);
        ASSERT_TRUE(block.ok()) << block.status().message();
        ForwardBatch b;
        for (int t = 0; t < T; ++t) {
            b.token_ids.push_back(t);
            b.positions.push_back(t);
            b.slot_mapping.push_back(t);
        }
        b.query_start = {0, T};
        b.context_lens = {T};
        b.block_tables = {{0}};
        auto kv = KvCache::create({1, 1, 8, nkv, D});
        ASSERT_TRUE(kv.ok());
        Workspace ws(Device::kCpu);
        StepContext ctx{b, *kv, ws, {}};
        Tensor x = random({T, H}, g), out = Tensor::zeros(DType::kF32, {T, H});
        ASSERT_TRUE((*block)->forward(0, x, ctx, out).is_ok());

        auto proj = [&](const char* n, int rows, int t, int r) {
            double s = 0;
            for (int i = 0; i < H; ++i) s += src.t[std::string(n) + ".weight"].data<float>()[r * H + i] * x.data<float>()[t * H + i];
            (void)rows;
            return s;
        };
        auto key = [&](int t, int kh, int d) {
            if (variant != 3) return proj("k", nkv * D, t, kh * D + d);
            double sq = 0;
            for (int e = 0; e < D; ++e) sq += std::pow(proj("k", nkv * D, t, kh * D + e), 2) / D;
            return proj("k", nkv * D, t, kh * D + d) / std::sqrt(sq + 1e-6) * src.t["kn.weight"].data<float>()[d];
        };
        std::vector<double> attn(T * nh * D, 0.0);
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < nh; ++h) {
                const int kh = h / (nh / nkv);
                std::vector<double> s;
                int first = variant == 3 ? std::max(0, t - 1) : 0;
                for (int j = first; j <= t; ++j) {
                    double dot = 0;
                    for (int d = 0; d < D; ++d) dot += proj("q", nh * D, t, h * D + d) * key(j, kh, d);
                    double sc = dot * 0.3;
                    if (variant == 1) sc = 1.5 * std::tanh(sc / 1.5);
                    if (variant == 2) sc += spec.alibi_slopes[h] * (j - t);
                    s.push_back(sc);
                }
                const double m = *std::max_element(s.begin(), s.end());
                double z = 0;
                for (double& e : s) z += (e = std::exp(e - m));
                for (int j = first; j <= t; ++j)
                    for (int d = 0; d < D; ++d) attn[(t * nh + h) * D + d] += s[j - first] / z * proj("v", nkv * D, j, kh * D + d);
            }
        for (int t = 0; t < T; ++t)
            for (int o = 0; o < H; ++o) {
                double want = 0;
                for (int i = 0; i < nh * D; ++i) want += src.t["o.weight"].data<float>()[o * nh * D + i] * attn[t * nh * D + i];
                EXPECT_NEAR(out.data<float>()[t * H + o], want, 2e-4) << "variant " << variant << " token " << t;
            }
    }
}

// longrope: inv_freq[i] = 1 / (factor[i] * base^(2i/d)), short factors up to the original context,
// long ones past it, cos/sin scaled by sqrt(1 + ln(max/original) / ln(original)).
TEST(Blocks, LongRopeTable) {
    RopeSpec r;
    r.rot_dim = 4;
    r.theta = 100.0f;
    r.max_position_embeddings = 64;
    r.scaling.type = RopeScaling::Type::kLongRope;
    r.scaling.factor = 0.0f;  // absent: max / original
    r.scaling.original_max_position_embeddings = 16;
    r.scaling.short_factor = {1.0f, 2.0f};
    r.scaling.long_factor = {3.0f, 5.0f};
    RotaryEmbedding rope(r);
    const double attn = std::sqrt(1 + std::log(4.0) / std::log(16.0));
    const int32_t pos[] = {9};
    for (int64_t seq_len : {10, 40}) {
        float c[2], s[2];
        rope.compute(pos, seq_len, c, s);
        const auto& f = seq_len > 16 ? r.scaling.long_factor : r.scaling.short_factor;
        for (int i = 0; i < 2; ++i) {
            const double inv = 1.0 / (f[i] * std::pow(100.0, 2.0 * i / 4));
            EXPECT_NEAR(c[i], std::cos(9 * inv) * attn, 1e-5) << seq_len;
            EXPECT_NEAR(s[i], std::sin(9 * inv) * attn, 1e-5) << seq_len;
        }
    }
}

}  // namespace
}  // namespace kite
