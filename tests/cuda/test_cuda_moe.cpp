// The fused CUDA MoE path (permute by expert, grouped GEMMs, un-permute with the routing weights)
// against the CPU op, with f32 and bf16 expert weights, a single decode token, a batch where some
// experts get no token, and an expert subset; a token's row alone equals its row in the batch.
// Every test skips with the reason when no GPU answers (or CUDA is not built).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/device.h"
#include "ops/moe.h"

namespace kite {
namespace {

class CudaMoe : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        if (!cuda_available(&why)) GTEST_SKIP() << "CUDA tests skipped: " << why;
    }
};

Tensor random_cpu(std::vector<int64_t> shape, uint32_t seed, float lo = -0.5f, float hi = 0.5f) {
    Tensor t = Tensor::zeros(DType::kF32, std::move(shape));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    return t;
}

Tensor on(Device d, const Tensor& t) {
    Result<Tensor> r = t.to(d);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Tensor();
}

// bf16 copy of an f32 tensor, and the f32 tensor of exactly those bf16 values (the CPU reference).
std::pair<Tensor, Tensor> as_bf16(const Tensor& t) {
    Tensor b = Tensor::zeros(DType::kBF16, t.shape()), back = Tensor::zeros(DType::kF32, t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) {
        const uint16_t h = f32_to_bf16(t.data<float>()[i]);
        b.data<uint16_t>()[i] = h;
        back.data<float>()[i] = bf16_to_f32(h);
    }
    return {b, back};
}

ops::Routing routing(int64_t T, int E, int k, uint32_t seed, int only_below = -1) {
    ops::RouterParams p;
    p.num_experts = E;
    p.top_k = k;
    p.renormalize = true;
    Tensor logits = random_cpu({T, E}, seed, -3.0f, 3.0f);
    if (only_below > 0)  // experts >= only_below never win: they get no token
        for (int64_t t = 0; t < T; ++t)
            for (int e = only_below; e < E; ++e) logits.data<float>()[t * E + e] = -50.0f;
    ops::Routing r;
    EXPECT_TRUE(ops::route(logits, nullptr, p, r).is_ok());
    return r;
}

void compare(int64_t T, int E, int k, int64_t H, int64_t I, bool bf16, int first, int count, uint32_t seed,
             int only_below = -1) {
    Tensor gu = random_cpu({count, 2 * I, H}, seed), dn = random_cpu({count, H, I}, seed + 1);
    ops::ExpertWeights cpu_w{gu, dn, first}, gpu_w;
    if (bf16) {
        auto [gb, gf] = as_bf16(gu);
        auto [db, df] = as_bf16(dn);
        cpu_w = {gf, df, first};
        gpu_w = {on(Device::kCuda, gb), on(Device::kCuda, db), first};
    } else {
        gpu_w = {on(Device::kCuda, gu), on(Device::kCuda, dn), first};
    }
    const Tensor x = random_cpu({T, H}, seed + 2, -1.0f, 1.0f);
    const ops::Routing r = routing(T, E, k, seed + 3, only_below);
    Tensor want = Tensor::zeros(DType::kF32, {T, H});
    ASSERT_TRUE(ops::moe_experts(x, r, cpu_w, want).is_ok());
    Tensor got = Tensor::zeros(DType::kF32, {T, H}, Device::kCuda);
    const Status st = ops::moe_experts(on(Device::kCuda, x), r, gpu_w, got);
    ASSERT_TRUE(st.is_ok()) << st.message();
    const Tensor g = on(Device::kCpu, got);
    for (int64_t i = 0; i < T * H; ++i)
        ASSERT_NEAR(g.data<float>()[i], want.data<float>()[i], 1e-4f + 1e-4f * std::fabs(want.data<float>()[i])) << i;
}

TEST_F(CudaMoe, DecodeTokenF32) { compare(1, 8, 2, 256, 96, false, 0, 8, 1); }
TEST_F(CudaMoe, RaggedBatchF32) { compare(77, 16, 4, 130, 70, false, 0, 16, 2); }
TEST_F(CudaMoe, Bf16Weights) { compare(33, 8, 2, 128, 200, true, 0, 8, 3); }
TEST_F(CudaMoe, IdleExperts) { compare(20, 8, 2, 64, 32, false, 0, 8, 4, /*only_below=*/3); }
TEST_F(CudaMoe, ExpertSubset) { compare(25, 8, 2, 64, 48, false, 4, 4, 5); }

TEST_F(CudaMoe, TokenRowAloneEqualsItsRowInTheBatch) {
    const int64_t T = 40, H = 96, I = 64;
    const int E = 8, k = 2;
    ops::ExpertWeights w{on(Device::kCuda, random_cpu({E, 2 * I, H}, 7)), on(Device::kCuda, random_cpu({E, H, I}, 8)), 0};
    const Tensor x = random_cpu({T, H}, 9, -1.0f, 1.0f);
    const ops::Routing r = routing(T, E, k, 10);
    Tensor all = Tensor::zeros(DType::kF32, {T, H}, Device::kCuda);
    ASSERT_TRUE(ops::moe_experts(on(Device::kCuda, x), r, w, all).is_ok());
    const Tensor all_h = on(Device::kCpu, all);
    const int64_t t = 17;
    ops::Routing one{1, k, {r.expert.begin() + t * k, r.expert.begin() + (t + 1) * k},
                     {r.weight.begin() + t * k, r.weight.begin() + (t + 1) * k}};
    Tensor xt = Tensor::zeros(DType::kF32, {1, H});
    std::copy(x.data<float>() + t * H, x.data<float>() + (t + 1) * H, xt.data<float>());
    Tensor alone = Tensor::zeros(DType::kF32, {1, H}, Device::kCuda);
    ASSERT_TRUE(ops::moe_experts(on(Device::kCuda, xt), one, w, alone).is_ok());
    const Tensor alone_h = on(Device::kCpu, alone);
    for (int64_t h = 0; h < H; ++h) ASSERT_EQ(alone_h.data<float>()[h], all_h.data<float>()[t * H + h]) << h;
}

TEST_F(CudaMoe, SharedExpertGate) {
    const int64_t T = 5, H = 33;
    Tensor out = random_cpu({T, H}, 11), y = random_cpu({T, H}, 12), g = random_cpu({T, 1}, 13, -2.0f, 2.0f);
    Tensor want = on(Device::kCpu, out);
    ASSERT_TRUE(ops::add_shared_expert(want, y, &g).is_ok());
    Tensor dev = on(Device::kCuda, out);
    const Tensor gd = on(Device::kCuda, g);
    ASSERT_TRUE(ops::add_shared_expert(dev, on(Device::kCuda, y), &gd).is_ok());
    const Tensor got = on(Device::kCpu, dev);
    for (int64_t i = 0; i < T * H; ++i) ASSERT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-6f) << i;
}

}  // namespace
}  // namespace kite
