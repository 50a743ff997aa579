// The MLA ops on CUDA against the CPU kernels (latent write, absorbed query, attention over a paged
// latent pool with ragged sequences and contexts longer than one key tile, value projection), and
// the three shared MoE references (Mixtral, Qwen3-MoE, DeepSeek-V3) run on CUDA against
// transformers' logits. Skips when no GPU answers (or CUDA is not built).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>

#include "core/device.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "ops/mla.h"

namespace kite {
namespace {

class CudaMla : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        if (!cuda_available(&why)) GTEST_SKIP() << "CUDA tests skipped: " << why;
    }
};

Tensor rnd(std::vector<int64_t> shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    Tensor t = Tensor::zeros(DType::kF32, std::move(shape));
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(g);
    return t;
}

Tensor to(Device d, const Tensor& t) {
    auto r = t.to(d);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Tensor();
}

void expect_near(const Tensor& cpu, const Tensor& dev, float tol, const char* what) {
    const Tensor g = to(Device::kCpu, dev);
    ASSERT_EQ(g.numel(), cpu.numel()) << what;
    for (int64_t i = 0; i < cpu.numel(); ++i)
        ASSERT_NEAR(g.data<float>()[i], cpu.data<float>()[i], tol * (1.0f + std::fabs(cpu.data<float>()[i]))) << what << " " << i;
}

TEST_F(CudaMla, OpsMatchCpu) {
    const ops::MlaDims d{4, 160, 16, 24, 20};  // latent 160: two dims per thread; contexts over 128 keys
    const int64_t bs = 16;
    const std::vector<int32_t> ctx = {300, 5, 131}, n_new = {2, 5, 1};
    std::vector<int32_t> qs = {0};
    for (int32_t n : n_new) qs.push_back(qs.back() + n);
    const int64_t T = qs.back();
    int64_t blocks = 0;
    std::vector<std::vector<int32_t>> tables;
    for (int32_t c : ctx) {
        std::vector<int32_t> tb;
        for (int64_t b = 0; b < (c + bs - 1) / bs; ++b) tb.push_back(static_cast<int32_t>(blocks++));
        std::reverse(tb.begin(), tb.end());
        tables.push_back(tb);
    }
    // Latent rows of every context token through mla_write_latent (all tokens of all sequences).
    int64_t total = 0;
    for (int32_t c : ctx) total += c;
    std::vector<int64_t> slots;
    for (size_t s = 0; s < ctx.size(); ++s)
        for (int32_t j = 0; j < ctx[s]; ++j) slots.push_back(int64_t(tables[s][j / bs]) * bs + j % bs);
    const Tensor kv_a = rnd({total, d.row()}, 1), norm_w = rnd({d.latent}, 2, 0.5f, 1.5f);
    const Tensor cos_all = rnd({total, d.rope / 2}, 3), sin_all = rnd({total, d.rope / 2}, 4);
    Tensor pool_c = Tensor::zeros(DType::kF32, {blocks, bs, d.row()});
    Tensor pool_g = Tensor::zeros(DType::kF32, {blocks, bs, d.row()}, Device::kCuda);
    ASSERT_TRUE(ops::mla_write_latent(kv_a, d, norm_w, 1e-6f, cos_all, sin_all, slots, pool_c).is_ok());
    ASSERT_TRUE(ops::mla_write_latent(to(Device::kCuda, kv_a), d, to(Device::kCuda, norm_w), 1e-6f,
                                      to(Device::kCuda, cos_all), to(Device::kCuda, sin_all), slots, pool_g)
                    .is_ok());
    expect_near(pool_c, pool_g, 1e-5f, "latent pool");

    const Tensor q = rnd({T, d.heads, d.nope + d.rope}, 5), w_uk_t = rnd({d.heads, d.latent, d.nope}, 6, -0.3f, 0.3f);
    const Tensor cs = rnd({T, d.rope / 2}, 7), sn = rnd({T, d.rope / 2}, 8);
    Tensor qa_c = Tensor::zeros(DType::kF32, {T, d.heads, d.row()});
    Tensor qa_g = Tensor::zeros(DType::kF32, {T, d.heads, d.row()}, Device::kCuda);
    ASSERT_TRUE(ops::mla_absorb_query(q, d, w_uk_t, cs, sn, qa_c).is_ok());
    ASSERT_TRUE(ops::mla_absorb_query(to(Device::kCuda, q), d, to(Device::kCuda, w_uk_t), to(Device::kCuda, cs),
                                      to(Device::kCuda, sn), qa_g)
                    .is_ok());
    expect_near(qa_c, qa_g, 1e-5f, "absorbed query");

    Tensor o_c = Tensor::zeros(DType::kF32, {T, d.heads, d.latent});
    Tensor o_g = Tensor::zeros(DType::kF32, {T, d.heads, d.latent}, Device::kCuda);
    ASSERT_TRUE(ops::mla_attention(qa_c, pool_c, d, qs, ctx, tables, 0.05f, o_c).is_ok());
    ASSERT_TRUE(ops::mla_attention(to(Device::kCuda, qa_c), pool_g, d, qs, ctx, tables, 0.05f, o_g).is_ok());
    expect_near(o_c, o_g, 1e-5f, "latent attention");

    const Tensor w_uv = rnd({d.heads, d.v, d.latent}, 9, -0.3f, 0.3f);
    Tensor v_c = Tensor::zeros(DType::kF32, {T, d.heads * d.v});
    Tensor v_g = Tensor::zeros(DType::kF32, {T, d.heads * d.v}, Device::kCuda);
    ASSERT_TRUE(ops::mla_project_values(o_c, d, w_uv, v_c).is_ok());
    ASSERT_TRUE(ops::mla_project_values(to(Device::kCuda, o_c), d, to(Device::kCuda, w_uv), v_g).is_ok());
    expect_near(v_c, v_g, 1e-5f, "value projection");
}

std::string shared_dir() {
    const char* env = std::getenv("KITE_SHARED_DIR");
    return env ? env : KITE_SHARED_DIR;
}

class CudaMoeReference : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        std::string why;
        if (!cuda_available(&why)) GTEST_SKIP() << "CUDA tests skipped: " << why;
    }
};

// Prefill of each reference prompt on the GPU: every position's logits against transformers'.
TEST_P(CudaMoeReference, LogitsMatchTransformers) {
    const std::string dir = shared_dir() + "/families/" + GetParam();
    LoadOptions o;
    o.device = Device::kCuda;
    auto model = load_model(dir, o);
    ASSERT_TRUE(model.ok()) << model.status().message();
    auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
    ASSERT_TRUE(ref.ok());
    for (int p = 0; p < 4; ++p) {
        const std::string key = "prompt" + std::to_string(p);
        auto ids_t = (*ref)->get(key + ".ids");
        auto want = (*ref)->get(key + ".logits");
        ASSERT_TRUE(ids_t.ok() && want.ok());
        const int64_t L = ids_t->numel(), V = want->dim(1);
        auto kv = KvCache::create((*model)->kv_shape(16, 8));
        ASSERT_TRUE(kv.ok()) << kv.status().message();
        ForwardBatch b;
        for (int64_t t = 0; t < L; ++t) {
            b.token_ids.push_back(static_cast<int32_t>(ids_t->data<int64_t>()[t]));
            b.positions.push_back(static_cast<int32_t>(t));
            b.slot_mapping.push_back(t);
            b.logits_indices.push_back(static_cast<int32_t>(t));
        }
        b.query_start = {0, static_cast<int32_t>(L)};
        b.context_lens = {static_cast<int32_t>(L)};
        std::vector<int32_t> table(16);
        std::iota(table.begin(), table.end(), 0);
        b.block_tables = {table};
        Tensor logits;
        const Status st = (*model)->forward(b, *kv, logits);
        ASSERT_TRUE(st.is_ok()) << st.message();
        double worst = 0;
        for (int64_t t = 0; t < L; ++t) {
            double top = 1;
            for (int64_t v = 0; v < V; ++v) top = std::max<double>(top, std::fabs(want->data<float>()[t * V + v]));
            for (int64_t v = 0; v < V; ++v)
                worst = std::max<double>(worst, std::fabs(logits.data<float>()[t * V + v] - want->data<float>()[t * V + v]) / top);
        }
        EXPECT_LT(worst, 1e-4) << GetParam() << " prompt " << p;
    }
}

INSTANTIATE_TEST_SUITE_P(Families, CudaMoeReference, ::testing::Values("mixtral", "qwen3_moe", "deepseek_v3"));

}  // namespace
}  // namespace kite
