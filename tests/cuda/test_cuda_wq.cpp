// Integer weight-only linear on the GPU (ops/cuda/wq_matmul.cu) against the CPU reference kernel:
// 4 and 8 bits, f16 rounding, groups that divide K or not, K not a multiple of 8, act-order parts,
// token counts 1..9. Skips with the reason when no GPU answers (or CUDA is not built).
#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "core/device.h"
#include "ops/ops.h"
#include "ops/wq.h"

namespace kite {
namespace {

Weight random_weight(int bits, int64_t N, int64_t K, int64_t G, bool round, bool perm, uint32_t seed) {
    std::mt19937 gen(seed);
    const int64_t Gs = G <= 0 || G >= K ? K : G, groups = (K + Gs - 1) / Gs;
    std::vector<uint8_t> q(N * K);
    for (auto& v : q) v = static_cast<uint8_t>(gen() % (1u << bits));
    Tensor s = Tensor::zeros(DType::kF32, {N, groups}), z = Tensor::zeros(DType::kF32, {N, groups});
    for (int64_t i = 0; i < N * groups; ++i) {
        s.data<float>()[i] = 0.001f + (gen() % 1000) * 1e-5f;
        z.data<float>()[i] = static_cast<float>(gen() % (1u << bits));
    }
    Tensor p;
    if (perm) {
        p = Tensor::zeros(DType::kI32, {K});
        std::iota(p.data<int32_t>(), p.data<int32_t>() + K, 0);
        std::shuffle(p.data<int32_t>(), p.data<int32_t>() + K, gen);
    }
    auto w = ops::make_int_weight(bits, N, K, G, q, s, z, round, p, "w");
    EXPECT_TRUE(w.ok());
    return *w;
}

Weight to_gpu(Weight w) {
    for (Tensor* t : {&w.t, &w.quant.scales, &w.quant.zeros, &w.quant.perm})
        if (t->defined()) *t = *t->to(Device::kCuda);
    return w;
}

TEST(CudaWeightOnly, MatchesTheCpuKernel) {
    std::string why;
    if (!cuda_available(&why)) GTEST_SKIP() << "CUDA tests skipped: " << why;
    struct S { int bits; int64_t N, K, G; bool round, perm; };
    const S cases[] = {{4, 37, 256, 32, true, false}, {4, 24, 576, 128, false, true}, {8, 19, 172, 128, true, false},
                       {8, 33, 96, -1, false, true}, {4, 11, 172, -1, true, true}};
    uint32_t seed = 1;
    for (const S& c : cases) {
        Weight a = random_weight(c.bits, c.N, c.K, c.G, c.round, c.perm, seed++);
        Weight b = random_weight(c.bits, 13, c.K, c.G, c.round, c.perm, seed++);
        auto stacked = ops::stack_int_weights({a, b}, "w");
        ASSERT_TRUE(stacked.ok());
        const Weight& w = *stacked;
        const Weight wg = to_gpu(w);
        const int64_t N = w.out_features();
        for (int64_t T : {1, 3, 4, 9}) {
            Tensor x = Tensor::zeros(DType::kF32, {T, c.K});
            std::mt19937 gen(seed * 7 + T);
            std::uniform_real_distribution<float> u(-1, 1);
            for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(gen);
            Tensor want = Tensor::zeros(DType::kF32, {T, N});
            ASSERT_TRUE(ops::linear(x, w, nullptr, want).is_ok());
            Tensor out = Tensor::zeros(DType::kF32, {T, N}, Device::kCuda);
            const Status st = ops::linear(*x.to(Device::kCuda), wg, nullptr, out);
            ASSERT_TRUE(st.is_ok()) << st.message();
            Tensor got = *out.to(Device::kCpu);
            for (int64_t i = 0; i < got.numel(); ++i)
                ASSERT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-4 * (1 + std::abs(want.data<float>()[i])))
                    << "bits " << c.bits << " K " << c.K << " T " << T << " i " << i;
        }
    }
}

}  // namespace
}  // namespace kite
