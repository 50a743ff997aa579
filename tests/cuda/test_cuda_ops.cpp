// Each CUDA op against the CPU reference kernel through the same ops:: entry points, on awkward
// shapes (1 token, 7 rows, widths 769 / 5125, ragged batches, GQA, sliding window, soft-capping,
// ALiBi, value heads unlike key heads, contexts longer than one key tile). Every test skips with the reason when no GPU answers (or CUDA is not built).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>
#include <vector>

#include "core/device.h"
#include "ops/ops.h"

namespace kite {
namespace {

class CudaOps : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        if (!cuda_available(&why)) GTEST_SKIP() << "CUDA tests skipped: " << why;
    }
};

Tensor random_cpu(std::vector<int64_t> shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    Tensor t = Tensor::zeros(DType::kF32, std::move(shape));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    return t;
}

Tensor gpu(const Tensor& t) {
    Result<Tensor> r = t.to(Device::kCuda);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Tensor();
}

std::vector<float> host(const Tensor& t) {
    Result<Tensor> r = t.to(Device::kCpu);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return {};
    return std::vector<float>(r->data<float>(), r->data<float>() + r->numel());
}

// |gpu - cpu| <= atol + rtol * |cpu| everywhere; reports the worst element.
void expect_close(const Tensor& cpu, const Tensor& dev, float atol, float rtol, const std::string& what) {
    const std::vector<float> g = host(dev);
    ASSERT_EQ(static_cast<int64_t>(g.size()), cpu.numel()) << what;
    int64_t worst = -1;
    float worst_excess = 0.0f;
    for (int64_t i = 0; i < cpu.numel(); ++i) {
        const float ref = cpu.data<float>()[i];
        const float excess = std::fabs(g[i] - ref) - (atol + rtol * std::fabs(ref));
        if (!(excess <= worst_excess)) {  // also catches NaN
            worst_excess = excess;
            worst = i;
        }
    }
    if (worst >= 0)
        ADD_FAILURE() << what << ": element " << worst << " is " << g[worst] << ", CPU reference "
                      << cpu.data<float>()[worst] << " (atol " << atol << ", rtol " << rtol << ")";
}

Tensor round_to_bf16(const Tensor& f32) {
    Tensor out = Tensor::zeros(DType::kBF16, f32.shape());
    for (int64_t i = 0; i < f32.numel(); ++i) out.data<uint16_t>()[i] = f32_to_bf16(f32.data<float>()[i]);
    return out;
}

Tensor bf16_to_f32_tensor(const Tensor& b) {
    Tensor out = Tensor::zeros(DType::kF32, b.shape());
    for (int64_t i = 0; i < b.numel(); ++i) out.data<float>()[i] = bf16_to_f32(b.data<uint16_t>()[i]);
    return out;
}

TEST_F(CudaOps, TensorRoundTripsThroughTheGpu) {
    Tensor a = random_cpu({7, 769}, 1);
    Tensor d = gpu(a);
    EXPECT_EQ(d.device(), Device::kCuda);
    expect_close(a, d, 0.0f, 0.0f, "round trip");
    Tensor z = Tensor::zeros(DType::kF32, {3, 5}, Device::kCuda);
    for (float v : host(z)) EXPECT_EQ(v, 0.0f);
}

TEST_F(CudaOps, LinearF32MatchesCpu) {
    struct Case { int64_t T, K, N; bool bias; };
    for (const Case c : {Case{1, 769, 5125, false}, Case{7, 64, 33, true}, Case{13, 256, 769, true}, Case{1, 5, 1, false}}) {
        const float s = 1.0f / std::sqrt(float(c.K));
        Tensor x = random_cpu({c.T, c.K}, 2), w = random_cpu({c.N, c.K}, 3, -s, s), b = random_cpu({c.N}, 4);
        Tensor ref = Tensor::zeros(DType::kF32, {c.T, c.N});
        ASSERT_TRUE(ops::linear(x, Weight{w}, c.bias ? &b : nullptr, ref).is_ok());
        Tensor out = Tensor::zeros(DType::kF32, {c.T, c.N}, Device::kCuda);
        Tensor bd = gpu(b);
        const Status st = ops::linear(gpu(x), Weight{gpu(w)}, c.bias ? &bd : nullptr, out);
        ASSERT_TRUE(st.is_ok()) << st.message();
        expect_close(ref, out, 1e-4f, 1e-4f, "linear T=" + std::to_string(c.T) + " K=" + std::to_string(c.K));
    }
}

TEST_F(CudaOps, LinearBf16WeightsMatchCpuOnRoundedInputs) {
    const int64_t T = 7, K = 769, N = 1031;
    const float s = 1.0f / std::sqrt(float(K));
    Tensor wb = round_to_bf16(random_cpu({N, K}, 5, -s, s));
    // The kernel rounds x to bf16 too; the reference sees the same rounded operands in f32.
    Tensor x = bf16_to_f32_tensor(round_to_bf16(random_cpu({T, K}, 6)));
    Tensor ref = Tensor::zeros(DType::kF32, {T, N});
    ASSERT_TRUE(ops::linear(x, Weight{bf16_to_f32_tensor(wb)}, nullptr, ref).is_ok());
    Tensor out = Tensor::zeros(DType::kF32, {T, N}, Device::kCuda);
    const Status st = ops::linear(gpu(x), Weight{gpu(wb)}, nullptr, out);
    ASSERT_TRUE(st.is_ok()) << st.message();
    expect_close(ref, out, 1e-4f, 1e-3f, "linear bf16");
}

TEST_F(CudaOps, EmbeddingGathersRowsExactly) {
    Tensor table = random_cpu({50, 769}, 7);
    const std::vector<int32_t> ids = {3, 0, 49, 3, 17, 8, 8};
    Tensor ref = Tensor::zeros(DType::kF32, {7, 769});
    ASSERT_TRUE(ops::embedding(table, ids, ref).is_ok());
    Tensor out = Tensor::zeros(DType::kF32, {7, 769}, Device::kCuda);
    ASSERT_TRUE(ops::embedding(gpu(table), ids, out).is_ok());
    expect_close(ref, out, 0.0f, 0.0f, "embedding f32");

    Tensor tb = round_to_bf16(table);
    ASSERT_TRUE(ops::embedding(tb, ids, ref).is_ok());
    ASSERT_TRUE(ops::embedding(gpu(tb), ids, out).is_ok());
    expect_close(ref, out, 0.0f, 0.0f, "embedding bf16");
}

TEST_F(CudaOps, RmsNormAndFusedAddMatchCpu) {
    for (int64_t rows : {1, 7}) {
        for (int64_t n : {769, 5125, 64}) {
            Tensor x = random_cpu({rows, n}, 8, -3.0f, 3.0f), w = random_cpu({n}, 9), r = random_cpu({rows, n}, 10);
            Tensor ref = Tensor::zeros(DType::kF32, {rows, n});
            ASSERT_TRUE(ops::rms_norm(x, w, 1e-6f, ref).is_ok());
            Tensor xd = gpu(x);
            ASSERT_TRUE(ops::rms_norm(xd, gpu(w), 1e-6f, xd).is_ok());  // in place: out aliases x
            expect_close(ref, xd, 1e-5f, 1e-5f, "rms_norm n=" + std::to_string(n));

            Tensor rd = gpu(r), outd = Tensor::zeros(DType::kF32, {rows, n}, Device::kCuda);
            ASSERT_TRUE(ops::add_rms_norm(r, x, w, 1e-5f, ref).is_ok());  // r becomes r + x
            ASSERT_TRUE(ops::add_rms_norm(rd, gpu(x), gpu(w), 1e-5f, outd).is_ok());
            expect_close(r, rd, 0.0f, 0.0f, "add_rms_norm residual");
            expect_close(ref, outd, 1e-5f, 1e-5f, "add_rms_norm out");
        }
    }
}

TEST_F(CudaOps, SiluMulAndAddMatchCpu) {
    Tensor gu = random_cpu({7, 2 * 769}, 11, -6.0f, 6.0f);
    Tensor ref = Tensor::zeros(DType::kF32, {7, 769}), out = Tensor::zeros(DType::kF32, {7, 769}, Device::kCuda);
    ASSERT_TRUE(ops::silu_mul(gu, ref).is_ok());
    ASSERT_TRUE(ops::silu_mul(gpu(gu), out).is_ok());
    expect_close(ref, out, 1e-6f, 1e-5f, "silu_mul");

    Tensor a = random_cpu({1, 5125}, 12), b = random_cpu({1, 5125}, 13);
    Tensor ad = gpu(a);
    ASSERT_TRUE(ops::add_inplace(a, b).is_ok());
    ASSERT_TRUE(ops::add_inplace(ad, gpu(b)).is_ok());
    expect_close(a, ad, 0.0f, 0.0f, "add_inplace");
}

TEST_F(CudaOps, RopeMatchesCpuFullAndPartialRotation) {
    for (int rot_dim : {64, 32}) {
        const int64_t T = 7, heads = 3, D = 64;
        Tensor x = random_cpu({T, heads, D}, 14), cos = random_cpu({T, rot_dim / 2}, 15), sin = random_cpu({T, rot_dim / 2}, 16);
        Tensor xd = gpu(x);
        ASSERT_TRUE(ops::rope(x, cos, sin, rot_dim).is_ok());
        ASSERT_TRUE(ops::rope(xd, gpu(cos), gpu(sin), rot_dim).is_ok());
        expect_close(x, xd, 1e-6f, 1e-5f, "rope rot_dim=" + std::to_string(rot_dim));
    }
}

TEST_F(CudaOps, RopeInterleavedMatchesCpu) {
    for (int rot_dim : {64, 32, 16}) {
        const int64_t T = 7, heads = 3, D = 64;
        Tensor x = random_cpu({T, heads, D}, 30), cos = random_cpu({T, rot_dim / 2}, 31), sin = random_cpu({T, rot_dim / 2}, 32);
        Tensor xd = gpu(x);
        ASSERT_TRUE(ops::rope(x, cos, sin, rot_dim, ops::RopeLayout::kInterleaved).is_ok());
        ASSERT_TRUE(ops::rope(xd, gpu(cos), gpu(sin), rot_dim, ops::RopeLayout::kInterleaved).is_ok());
        expect_close(x, xd, 1e-6f, 1e-5f, "interleaved rope rot_dim=" + std::to_string(rot_dim));
    }
}

TEST_F(CudaOps, LayerNormAndFusedAddMatchCpu) {
    for (int64_t rows : {1, 7}) {
        for (int64_t n : {769, 5125, 64}) {
            Tensor x = random_cpu({rows, n}, 33, 9.0f, 11.0f), w = random_cpu({n}, 34), b = random_cpu({n}, 35);
            Tensor r = random_cpu({rows, n}, 36);
            for (bool with_bias : {false, true}) {
                Tensor bd = gpu(b);
                Tensor ref = Tensor::zeros(DType::kF32, {rows, n});
                ASSERT_TRUE(ops::layer_norm(x, w, with_bias ? &b : nullptr, 1e-5f, ref).is_ok());
                Tensor xd = gpu(x);
                ASSERT_TRUE(ops::layer_norm(xd, gpu(w), with_bias ? &bd : nullptr, 1e-5f, xd).is_ok());  // in place
                expect_close(ref, xd, 1e-5f, 1e-5f, "layer_norm n=" + std::to_string(n));
            }
            Tensor rd = gpu(r), bd = gpu(b), outd = Tensor::zeros(DType::kF32, {rows, n}, Device::kCuda);
            Tensor ref = Tensor::zeros(DType::kF32, {rows, n});
            ASSERT_TRUE(ops::add_layer_norm(r, x, w, &b, 1e-5f, ref).is_ok());
            ASSERT_TRUE(ops::add_layer_norm(rd, gpu(x), gpu(w), &bd, 1e-5f, outd).is_ok());
            expect_close(r, rd, 0.0f, 0.0f, "add_layer_norm residual");
            expect_close(ref, outd, 1e-5f, 1e-5f, "add_layer_norm out");
        }
    }
}

TEST_F(CudaOps, GemmaRmsNormOffsetMatchesCpu) {
    Tensor x = random_cpu({7, 769}, 37, -3.0f, 3.0f), w = random_cpu({769}, 38, -0.5f, 0.5f), r = random_cpu({7, 769}, 39);
    Tensor ref = Tensor::zeros(DType::kF32, {7, 769}), out = Tensor::zeros(DType::kF32, {7, 769}, Device::kCuda);
    ASSERT_TRUE(ops::rms_norm(x, w, 1e-6f, ref, 1.0f).is_ok());
    ASSERT_TRUE(ops::rms_norm(gpu(x), gpu(w), 1e-6f, out, 1.0f).is_ok());
    expect_close(ref, out, 1e-5f, 1e-5f, "rms_norm (1 + w)");
    Tensor rd = gpu(r);
    ASSERT_TRUE(ops::add_rms_norm(r, x, w, 1e-6f, ref, 1.0f).is_ok());
    ASSERT_TRUE(ops::add_rms_norm(rd, gpu(x), gpu(w), 1e-6f, out, 1.0f).is_ok());
    expect_close(r, rd, 0.0f, 0.0f, "add_rms_norm (1 + w) residual");
    expect_close(ref, out, 1e-5f, 1e-5f, "add_rms_norm (1 + w) out");
}

TEST_F(CudaOps, ActivationsGatedAndInPlaceMatchCpu) {
    using ops::Activation;
    for (Activation a : {Activation::kSilu, Activation::kGelu, Activation::kGeluTanh, Activation::kQuickGelu,
                         Activation::kRelu, Activation::kRelu2}) {
        const std::string name = ops::activation_name(a);
        Tensor gu = random_cpu({7, 2 * 769}, 40, -6.0f, 6.0f);
        Tensor ref = Tensor::zeros(DType::kF32, {7, 769}), out = Tensor::zeros(DType::kF32, {7, 769}, Device::kCuda);
        ASSERT_TRUE(ops::act_mul(gu, a, ref).is_ok());
        ASSERT_TRUE(ops::act_mul(gpu(gu), a, out).is_ok());
        expect_close(ref, out, 1e-6f, 1e-5f, name + "_mul");
        Tensor x = random_cpu({5, 1025}, 41, -8.0f, 8.0f);
        Tensor xd = gpu(x);
        ASSERT_TRUE(ops::activation(x, a).is_ok());
        ASSERT_TRUE(ops::activation(xd, a).is_ok());
        expect_close(x, xd, 1e-6f, 1e-5f, name);
    }
}

TEST_F(CudaOps, ScaleAndSoftCapMatchCpu) {
    Tensor x = random_cpu({3, 5125}, 42, -100.0f, 100.0f);
    Tensor xs = gpu(x), xc = gpu(x), c = random_cpu({3, 5125}, 42, -100.0f, 100.0f);  // a second copy of x
    ASSERT_TRUE(ops::scale_inplace(x, 48.0f).is_ok());
    ASSERT_TRUE(ops::scale_inplace(xs, 48.0f).is_ok());
    expect_close(x, xs, 0.0f, 0.0f, "scale");
    ASSERT_TRUE(ops::soft_cap(c, 30.0f).is_ok());
    ASSERT_TRUE(ops::soft_cap(xc, 30.0f).is_ok());
    expect_close(c, xc, 1e-5f, 1e-5f, "soft_cap");
}

TEST_F(CudaOps, WriteKvPutsRowsAtTheirSlots) {
    const int64_t blocks = 8, bs = 4, kvh = 2, D = 16, T = 5;
    Tensor k = random_cpu({T, kvh, D}, 17), v = random_cpu({T, kvh, D}, 18);
    Tensor kp = random_cpu({blocks, bs, kvh, D}, 19), vp = random_cpu({blocks, bs, kvh, D}, 20);
    Tensor kpd = gpu(kp), vpd = gpu(vp);
    const std::vector<int64_t> slots = {31, 0, 13, 14, 6};
    ASSERT_TRUE(ops::write_kv(k, v, slots, kp, vp).is_ok());
    ASSERT_TRUE(ops::write_kv(gpu(k), gpu(v), slots, kpd, vpd).is_ok());
    expect_close(kp, kpd, 0.0f, 0.0f, "write_kv k_pool");
    expect_close(vp, vpd, 0.0f, 0.0f, "write_kv v_pool");
}

// A ragged batch: decode rows, a whole prompt, a chunk of a prompt, contexts over several key
// tiles. Head dims 64 and 128 take the warp-per-key kernel, 80 the generic one. The small batch
// (18 tokens x 8 heads) splits long contexts into partitions (flash decoding); adding a 40-token
// prompt makes the grid large enough to run unsplit.
class CudaAttention : public CudaOps, public ::testing::WithParamInterface<std::tuple<int, bool>> {};

TEST_P(CudaAttention, PagedAttentionMatchesCpuOnRaggedGqaBatches) {
    const int64_t heads = 8, kv_heads = 2, D = std::get<0>(GetParam()), bs = 4;
    std::vector<std::pair<int32_t, int32_t>> seqs = {{1, 1}, {7, 7}, {1, 37}, {5, 21}, {1, 300}, {3, 130}};
    if (std::get<1>(GetParam())) seqs.push_back({40, 40});
    std::vector<int32_t> query_start = {0}, context_lens;
    int64_t blocks_needed = 0;
    for (auto [n_new, ctx] : seqs) {
        query_start.push_back(query_start.back() + n_new);
        context_lens.push_back(ctx);
        blocks_needed += (ctx + bs - 1) / bs;
    }
    const int64_t num_blocks = blocks_needed + 3;
    std::vector<int32_t> ids(static_cast<size_t>(num_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), std::mt19937(21));  // tables point all over the pool
    std::vector<std::vector<int32_t>> tables;
    size_t next = 0;
    for (int32_t ctx : context_lens) {
        tables.emplace_back(ids.begin() + next, ids.begin() + next + (ctx + bs - 1) / bs);
        next += tables.back().size();
    }
    const int64_t T = query_start.back();
    Tensor q = random_cpu({T, heads, D}, 22, -2.0f, 2.0f);
    Tensor kp = random_cpu({num_blocks, bs, kv_heads, D}, 23, -2.0f, 2.0f), vp = random_cpu({num_blocks, bs, kv_heads, D}, 24);
    Tensor qd = gpu(q), kpd = gpu(kp), vpd = gpu(vp);
    const std::vector<float> slopes = ops::alibi_slopes(heads);
    struct Mods { float softcap; bool alibi, falcon; };
    for (int window : {0, 5, 200}) {
        for (Mods m : {Mods{0.0f, false, false}, Mods{4.0f, false, false}, Mods{0.0f, true, false},
                       Mods{3.0f, true, false}, Mods{0.0f, true, true}}) {
            ops::AttentionParams p;
            p.scale = 1.0f / std::sqrt(float(D));
            p.sliding_window = window;
            p.logit_softcap = m.softcap;
            if (m.alibi) p.alibi_slopes = slopes;
            p.alibi_falcon_bf16 = m.falcon;
            Tensor ref = Tensor::zeros(DType::kF32, {T, heads, D}), out = Tensor::zeros(DType::kF32, {T, heads, D}, Device::kCuda);
            ASSERT_TRUE(ops::paged_attention(q, kp, vp, query_start, context_lens, tables, p, ref).is_ok());
            const Status st = ops::paged_attention(qd, kpd, vpd, query_start, context_lens, tables, p, out);
            ASSERT_TRUE(st.is_ok()) << st.message();
            expect_close(ref, out, 2e-5f, 1e-4f,
                         "paged_attention D=" + std::to_string(D) + " window=" + std::to_string(window) +
                             " softcap=" + std::to_string(m.softcap) + " alibi=" + std::to_string(m.alibi) +
                             " falcon=" + std::to_string(m.falcon));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(HeadDims, CudaAttention,
                         ::testing::Combine(::testing::Values(64, 80, 128), ::testing::Bool()));

// Value heads narrower than key heads (MLA-like), through the generic kernel; plus write_kv into
// pools of the two widths.
TEST_F(CudaOps, PagedAttentionWithValueHeadDimUnlikeKeys) {
    const int64_t heads = 4, kv_heads = 1, D = 64, Dv = 48, bs = 4, num_blocks = 40;
    const std::vector<int32_t> query_start = {0, 1, 20}, context_lens = {70, 19};
    std::vector<std::vector<int32_t>> tables(2);
    for (int32_t b = 0; b < 18; ++b) tables[0].push_back(39 - b);
    for (int32_t b = 0; b < 5; ++b) tables[1].push_back(b);
    Tensor q = random_cpu({20, heads, D}, 43, -2.0f, 2.0f);
    Tensor kp = random_cpu({num_blocks, bs, kv_heads, D}, 44, -2.0f, 2.0f), vp = random_cpu({num_blocks, bs, kv_heads, Dv}, 45);
    Tensor kpd = gpu(kp), vpd = gpu(vp);
    Tensor k = random_cpu({3, kv_heads, D}, 46), v = random_cpu({3, kv_heads, Dv}, 47);
    const std::vector<int64_t> slots = {0, 77, 158};
    ASSERT_TRUE(ops::write_kv(k, v, slots, kp, vp).is_ok());
    ASSERT_TRUE(ops::write_kv(gpu(k), gpu(v), slots, kpd, vpd).is_ok());
    expect_close(kp, kpd, 0.0f, 0.0f, "write_kv keys");
    expect_close(vp, vpd, 0.0f, 0.0f, "write_kv narrow values");
    ops::AttentionParams p;
    p.scale = 0.125f;
    Tensor ref = Tensor::zeros(DType::kF32, {20, heads, Dv}), out = Tensor::zeros(DType::kF32, {20, heads, Dv}, Device::kCuda);
    ASSERT_TRUE(ops::paged_attention(q, kp, vp, query_start, context_lens, tables, p, ref).is_ok());
    const Status st = ops::paged_attention(gpu(q), kpd, vpd, query_start, context_lens, tables, p, out);
    ASSERT_TRUE(st.is_ok()) << st.message();
    expect_close(ref, out, 2e-5f, 1e-4f, "paged_attention Dv=48");
}

TEST_F(CudaOps, MixedDevicesAreRejectedWithAMessage) {
    Tensor x = random_cpu({2, 8}, 25), w = random_cpu({8}, 26);
    Tensor out = Tensor::zeros(DType::kF32, {2, 8}, Device::kCuda);
    const Status st = ops::rms_norm(x, w, 1e-6f, out);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("different devices"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace kite
