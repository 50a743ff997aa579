// Integer weight-only linears (ops/wq.h, ops/cpu/wq_matmul.cpp): the packed layout against the
// test's own scale * (q - zero), ops::linear against a double-precision product of those weights,
// for 4 and 8 bits, group sizes that divide K, do not divide it or span it, act-order permutations
// per fused part, f16 rounding, and token counts 1..9; load-time quantization error bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "ops/ops.h"
#include "ops/wq.h"
#include "test_ops_util.h"

namespace kite::ops {
namespace {

using testing::random_floats;
using testing::tensor_of;

// A random integer weight and the dense matrix it stands for, computed here independently.
struct Case {
    Weight w;
    std::vector<double> dense;  // [N, K], original input order
};

double f16_round(double v) { return f16_to_f32(f32_to_f16(static_cast<float>(v))); }

Case make_case(int bits, int64_t N, int64_t K, int64_t G, bool round_f16, bool with_perm, uint32_t seed) {
    std::mt19937 gen(seed);
    const int64_t Gs = (G <= 0 || G >= K) ? K : G, groups = (K + Gs - 1) / Gs;
    const int qmax = (1 << bits) - 1;
    std::vector<uint8_t> q(N * K);
    for (auto& v : q) v = static_cast<uint8_t>(gen() % (qmax + 1));
    std::vector<float> s = random_floats(N * groups, seed + 1, 0.001f, 0.05f), z(N * groups);
    if (round_f16)
        for (float& v : s) v = f16_to_f32(f32_to_f16(v));  // checkpoints store f16 scales
    for (auto& v : z) v = static_cast<float>(gen() % (qmax + 1));
    Tensor perm;
    std::vector<int32_t> p(K);
    std::iota(p.begin(), p.end(), 0);
    if (with_perm) {
        std::shuffle(p.begin(), p.end(), gen);
        perm = Tensor::zeros(DType::kI32, {K});
        std::copy(p.begin(), p.end(), perm.data<int32_t>());
    }
    auto w = make_int_weight(bits, N, K, G, q, tensor_of(s, {N, groups}), tensor_of(z, {N, groups}), round_f16, perm, "test");
    EXPECT_TRUE(w.ok()) << w.status().message();
    Case c{*w, std::vector<double>(N * K)};
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) {
            const int64_t g = n * groups + k / Gs;
            const double v = double(s[g]) * (double(q[n * K + k]) - z[g]);  // exact: small ints times an f16/f32
            c.dense[n * K + p[k]] = round_f16 ? f16_round(v) : static_cast<float>(v);
        }
    return c;
}

void expect_linear_matches(const Weight& w, const std::vector<double>& dense, int64_t T, bool with_bias, uint32_t seed) {
    const int64_t N = w.out_features(), K = w.in_features();
    const std::vector<float> x = random_floats(T * K, seed);
    const std::vector<float> b = random_floats(N, seed + 7);
    Tensor bias = tensor_of(b, {N});
    Tensor out = Tensor::zeros(DType::kF32, {T, N});
    ASSERT_TRUE(linear(tensor_of(x, {T, K}), w, with_bias ? &bias : nullptr, out).is_ok());
    for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n) {
            double want = with_bias ? b[n] : 0.0, mag = std::abs(want);
            for (int64_t k = 0; k < K; ++k) {
                want += double(x[t * K + k]) * dense[n * K + k];
                mag += std::abs(double(x[t * K + k]) * dense[n * K + k]);
            }
            ASSERT_NEAR(out.data<float>()[t * N + n], want, 1e-6 * mag + 1e-7) << "t " << t << " n " << n;
        }
}

TEST(WeightOnly, DequantizeMatchesIndependentFormula) {
    for (int bits : {2, 3, 4, 8})
        for (bool round : {false, true})
            for (bool perm : {false, true}) {
                Case c = make_case(bits, 9, 72, 24, round, perm, 100 + bits);
                Tensor d = dequantize_weight(c.w);
                for (int64_t i = 0; i < d.numel(); ++i)
                    ASSERT_EQ(d.data<float>()[i], static_cast<float>(c.dense[i])) << "bits " << bits << " i " << i;
            }
}

TEST(WeightOnly, LinearMatchesDensePerShapeAndTokenCount) {
    struct Shape { int64_t N, K, G; };
    // K multiple of the group; partial last group (576 = 4.5 x 128); one group (G -1); K not a
    // multiple of 8 (stories260K's 172) with and without groups.
    const Shape shapes[] = {{37, 256, 32}, {24, 576, 128}, {19, 96, -1}, {11, 172, 128}, {13, 172, -1}, {5, 40, 8}};
    uint32_t seed = 1;
    for (int bits : {4, 8})
        for (const Shape& s : shapes)
            for (bool round : {false, true})
                for (bool perm : {false, true}) {
                    Case c = make_case(bits, s.N, s.K, s.G, round, perm, seed++);
                    for (int64_t T : {1, 2, 3, 4, 5, 9}) {
                        SCOPED_TRACE("bits " + std::to_string(bits) + " K " + std::to_string(s.K) + " G " +
                                     std::to_string(s.G) + " T " + std::to_string(T));
                        expect_linear_matches(c.w, c.dense, T, T % 2 == 1, seed * 31 + T);
                    }
                }
}

TEST(WeightOnly, RowsAreBitIdenticalAloneOrBatched) {
    Case c = make_case(4, 40, 200, 64, true, true, 9);
    const int64_t T = 7, K = 200, N = 40;
    const std::vector<float> x = random_floats(T * K, 3);
    Tensor all = Tensor::zeros(DType::kF32, {T, N});
    ASSERT_TRUE(linear(tensor_of(x, {T, K}), c.w, nullptr, all).is_ok());
    for (int64_t t = 0; t < T; ++t) {
        Tensor one = Tensor::zeros(DType::kF32, {1, N});
        ASSERT_TRUE(linear(tensor_of(std::vector<float>(x.begin() + t * K, x.begin() + (t + 1) * K), {1, K}), c.w,
                           nullptr, one).is_ok());
        for (int64_t n = 0; n < N; ++n) ASSERT_EQ(one.data<float>()[n], all.data<float>()[t * N + n]);
    }
}

TEST(WeightOnly, StackedPartsKeepTheirOwnPermutations) {
    std::vector<Case> cs = {make_case(4, 16, 128, 32, true, true, 1), make_case(4, 8, 128, 32, true, true, 2),
                            make_case(4, 8, 128, 32, true, false, 3)};
    std::vector<Weight> ws;
    std::vector<double> dense;
    for (const Case& c : cs) ws.push_back(c.w), dense.insert(dense.end(), c.dense.begin(), c.dense.end());
    auto stacked = stack_int_weights(ws, "qkv");
    ASSERT_TRUE(stacked.ok()) << stacked.status().message();
    EXPECT_EQ(stacked->out_features(), 32);
    EXPECT_EQ(stacked->quant.perm.dim(0), 3);
    for (int64_t T : {1, 5}) expect_linear_matches(*stacked, dense, T, false, 77 + T);
    // Mismatched quantization cannot be stacked.
    ws.push_back(make_case(8, 4, 128, 32, true, false, 4).w);
    EXPECT_FALSE(stack_int_weights(ws, "qkv").ok());
}

// Round to nearest: every weight within half a step of its quantized value.
TEST(WeightOnly, LoadTimeQuantizationErrorIsHalfAStep) {
    const int64_t N = 12, K = 300;
    std::vector<float> w = random_floats(N * K, 5, -0.2f, 0.3f);
    for (int64_t k = 0; k < K; ++k) w[3 * K + k] = 0.0f;  // an all-zero row must not divide by zero
    struct S { int bits; int64_t G; bool zp; };
    for (S s : {S{8, 0, false}, S{8, 0, true}, S{4, 64, false}, S{4, 64, true}, S{4, 128, true}, S{4, 0, false}}) {
        auto q = quantize_weight(tensor_of(w, {N, K}), IntQuantScheme{s.bits, s.G, s.zp}, "w");
        ASSERT_TRUE(q.ok()) << q.status().message();
        Tensor d = dequantize_weight(*q);
        const int64_t G = (s.G <= 0 || s.G >= K) ? K : s.G;
        const int levels = s.zp ? (1 << s.bits) - 1 : (1 << s.bits) - 2;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t g = 0; g * G < K; ++g) {
                float lo = 0, hi = 0;
                for (int64_t k = g * G; k < std::min(K, (g + 1) * G); ++k) lo = std::min(lo, w[n * K + k]), hi = std::max(hi, w[n * K + k]);
                const float step = s.zp ? (hi - lo) / levels : 2 * std::max(-lo, hi) / levels;
                for (int64_t k = g * G; k < std::min(K, (g + 1) * G); ++k)
                    ASSERT_LE(std::abs(d.data<float>()[n * K + k] - w[n * K + k]), 0.5f * step * 1.0001f + 1e-7f)
                        << "bits " << s.bits << " G " << s.G << " zp " << s.zp << " n " << n << " k " << k;
            }
    }
    EXPECT_FALSE(quantize_weight(tensor_of(w, {N, K}), IntQuantScheme{4, 100, false}, "w").ok());  // not a multiple of 8
    EXPECT_FALSE(quantize_weight(tensor_of(w, {N, K}), IntQuantScheme{5, 64, false}, "w").ok());
}

TEST(WeightOnly, BadInputsAreErrors) {
    std::vector<uint8_t> q(4 * 16, 3);
    Tensor s = Tensor::zeros(DType::kF32, {4, 2}), z = Tensor::zeros(DType::kF32, {4, 2});
    EXPECT_TRUE(make_int_weight(2, 4, 16, 8, q, s, z, false, Tensor(), "w").ok());
    EXPECT_FALSE(make_int_weight(1, 4, 16, 8, q, s, z, false, Tensor(), "w").ok());  // 3 does not fit 1 bit
    EXPECT_FALSE(make_int_weight(4, 4, 16, 4, q, s, z, false, Tensor(), "w").ok());  // wrong scale shape
    Tensor bad_perm = Tensor::zeros(DType::kI32, {16});                               // all zeros: not a permutation
    EXPECT_FALSE(make_int_weight(4, 4, 16, 8, q, s, z, false, bad_perm, "w").ok());
    auto w = make_int_weight(4, 4, 16, 8, q, s, z, false, Tensor(), "w");
    Tensor out = Tensor::zeros(DType::kF32, {1, 4});
    EXPECT_FALSE(linear(Tensor::zeros(DType::kF32, {1, 15}), *w, nullptr, out).is_ok());
}

}  // namespace
}  // namespace kite::ops

namespace kite::ops {
namespace {

TEST(WeightOnly, PermutedRowsFollowTheirScalesAndPermutations) {
    for (bool two_parts : {false, true}) {
        Case a = make_case(4, 6, 64, 32, true, true, 21), b = make_case(4, 4, 64, 32, true, true, 22);
        Weight w = a.w;
        std::vector<double> dense = a.dense;
        if (two_parts) {
            w = *stack_int_weights({a.w, b.w}, "w");
            dense.insert(dense.end(), b.dense.begin(), b.dense.end());
        }
        const int64_t N = w.out_features(), K = 64;
        std::vector<int64_t> order(N);
        for (int64_t i = 0; i < N; ++i) order[i] = (i * 3 + 1) % N;  // 3 is coprime with 6 and 10
        Weight p = permute_int_weight_rows(w, order);
        EXPECT_EQ(p.is_int_quantized(), !two_parts);  // parts no longer contiguous: dequantized
        std::vector<double> want(N * K);
        for (int64_t i = 0; i < N; ++i)
            for (int64_t k = 0; k < K; ++k) want[i * K + k] = dense[order[i] * K + k];
        expect_linear_matches(p, want, 3, false, 5);
    }
}

}  // namespace
}  // namespace kite::ops
