// ops::dequantize on hand-worked blocks, and ops::quant_matmul against a double-precision product
// of the dequantized weights, for every supported type and token counts 1..9 (token groups of 4).
// Bit-exactness with the gguf package is tested in tests/model/test_gguf_dequant.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ops/cpu/kernels.h"
#include "ops/quant.h"

namespace kite::ops {
namespace {

void put_f16(uint8_t* p, float f) {
    const uint16_t h = f32_to_f16(f);
    std::memcpy(p, &h, 2);
}

TEST(Quant, Q4_0HandWorked) {
    uint8_t b[18] = {};
    put_f16(b, 0.5f);
    for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>((15 - j) << 4 | j);  // lo = j, hi = 15 - j
    float y[32];
    ASSERT_TRUE(dequantize(DType::kQ4_0, b, y, 32).is_ok());
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(y[j], 0.5f * (j - 8));
        EXPECT_EQ(y[16 + j], 0.5f * (15 - j - 8));
    }
}

TEST(Quant, Q4_1AndQ8_0HandWorked) {
    uint8_t b[20] = {};
    put_f16(b, 2.0f);
    put_f16(b + 2, -1.0f);
    b[4] = 0x3a;  // element 0 = 0xa, element 16 = 0x3
    float y[32];
    ASSERT_TRUE(dequantize(DType::kQ4_1, b, y, 32).is_ok());
    EXPECT_EQ(y[0], 2.0f * 10 - 1.0f);
    EXPECT_EQ(y[16], 2.0f * 3 - 1.0f);
    EXPECT_EQ(y[1], -1.0f);

    uint8_t q8[34] = {};
    put_f16(q8, 0.25f);
    q8[2] = static_cast<uint8_t>(-128);
    q8[33] = 127;
    ASSERT_TRUE(dequantize(DType::kQ8_0, q8, y, 32).is_ok());
    EXPECT_EQ(y[0], -32.0f);
    EXPECT_EQ(y[31], 31.75f);
}

TEST(Quant, Q5_0FifthBit) {
    uint8_t b[22] = {};
    put_f16(b, 1.0f);
    const uint32_t qh = (1u << 0) | (1u << 17);  // fifth bit of element 0 and of element 17
    std::memcpy(b + 2, &qh, 4);
    float y[32];
    ASSERT_TRUE(dequantize(DType::kQ5_0, b, y, 32).is_ok());
    EXPECT_EQ(y[0], 0.0f);    // 16 - 16
    EXPECT_EQ(y[1], -16.0f);  // 0 - 16
    EXPECT_EQ(y[17], 0.0f);
    EXPECT_EQ(y[16], -16.0f);
}

TEST(Quant, Q6_KHandWorked) {
    uint8_t b[210] = {};
    // element 0: ql[0] low nibble 5, qh[0] bits 0-1 = 2 -> q = 5 | 32 = 37 -> 37 - 32 = 5; scale[0] = 3
    b[0] = 5;
    b[128] = 2;
    b[192] = 3;
    // element 200 (half 1, r = 72): ql[64 + 8] high nibble, qh[32 + 8] bits 4-5, scale 12
    b[72] = 0x70;
    b[128 + 40] = 0x10;
    b[192 + 12] = static_cast<uint8_t>(-2);
    put_f16(b + 208, 0.5f);
    float y[256];
    ASSERT_TRUE(dequantize(DType::kQ6_K, b, y, 256).is_ok());
    EXPECT_EQ(y[0], 0.5f * 3 * 5);
    EXPECT_EQ(y[200], 0.5f * -2 * ((7 | (1 << 4)) - 32));
    EXPECT_EQ(y[1], 0.5f * 3 * -32);
}

TEST(Quant, RejectsPartialBlocks) {
    float y[64];
    uint8_t b[64] = {};
    EXPECT_FALSE(dequantize(DType::kQ4_0, b, y, 31).is_ok());
    EXPECT_FALSE(dequantize(DType::kI32, b, y, 4).is_ok());
}

// Random blocks whose f16 scale fields hold small finite values (the other bytes are arbitrary).
std::vector<uint8_t> random_weight(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
    const int64_t nb = rows * cols / dtype_block_elems(t), bs = dtype_block_bytes(t);
    std::vector<uint8_t> w(nb * bs);
    std::uniform_int_distribution<int> byte(0, 255);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    for (auto& x : w) x = static_cast<uint8_t>(byte(rng));
    for (int64_t i = 0; i < nb; ++i) {
        uint8_t* b = w.data() + i * bs;
        switch (t) {
            case DType::kQ8_0: case DType::kQ4_0: case DType::kQ5_0: put_f16(b, nd(rng)); break;
            case DType::kQ4_1: case DType::kQ5_1: case DType::kQ4_K: case DType::kQ5_K:
                put_f16(b, nd(rng));
                put_f16(b + 2, nd(rng));
                break;
            case DType::kQ6_K: put_f16(b + 208, nd(rng)); break;
            case DType::kF16:
                for (int j = 0; j < bs; j += 2) put_f16(b + j, nd(rng) * 10);
                break;
            case DType::kBF16:
                for (int j = 0; j < bs; j += 2) {
                    const uint16_t h = f32_to_bf16(nd(rng) * 10);
                    std::memcpy(b + j, &h, 2);
                }
                break;
            case DType::kF32:
                for (int j = 0; j < bs; j += 4) {
                    const float f = nd(rng) * 10;
                    std::memcpy(b + j, &f, 4);
                }
                break;
            default: break;
        }
    }
    return w;
}

class QuantMatmul : public ::testing::TestWithParam<DType> {};

TEST_P(QuantMatmul, MatchesDequantizedProduct) {
    const DType t = GetParam();
    std::mt19937 rng(7);
    const int64_t N = 37, K = 512;
    auto wbytes = random_weight(t, N, K, rng);
    std::vector<float> wf(N * K);
    ASSERT_TRUE(dequantize(t, wbytes.data(), wf.data(), N * K).is_ok());
    Tensor w = Tensor::view(wbytes.data(), t, {N, K}, nullptr);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int64_t T : {1, 2, 3, 4, 5, 9}) {
        std::vector<float> x(T * K), out(T * N, -1.0f);
        for (auto& v : x) v = nd(rng);
        quant_matmul(x.data(), T, K, w, out.data());
        for (int64_t ti = 0; ti < T; ++ti) {
            for (int64_t n = 0; n < N; ++n) {
                double ref = 0, mag = 0;
                for (int64_t k = 0; k < K; ++k) {
                    ref += static_cast<double>(x[ti * K + k]) * wf[n * K + k];
                    mag += std::fabs(static_cast<double>(x[ti * K + k]) * wf[n * K + k]);
                }
                // f32 accumulation over K terms: error bounded by ~K * eps * sum|x w|; far tighter in practice.
                EXPECT_NEAR(out[ti * N + n], ref, 1e-5 * mag + 1e-6) << dtype_name(t) << " T=" << T << " n=" << n;
            }
        }
    }
}


// The quantized path's promise: bit-identical to dequantizing at load and running the f32 GEMM, for
// every row count (register tiles up to 4 rows, expanded panels beyond), with bias, with several
// panels (N = 300), and for 16-bit floats also when K is not a multiple of 32.
TEST_P(QuantMatmul, BitIdenticalToF32Gemm) {
    const DType t = GetParam();
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<int64_t> ks = {512};
    if (!dtype_is_quantized(t)) ks = {512, 40, 13, 77};
    for (int64_t K : ks) {
        for (int64_t N : {37, 300}) {
            auto wbytes = random_weight(t, N, K, rng);
            std::vector<float> wf(N * K), bias(N);
            ASSERT_TRUE(dequantize(t, wbytes.data(), wf.data(), N * K).is_ok());
            for (auto& b : bias) b = nd(rng);
            Tensor w = Tensor::view(wbytes.data(), t, {N, K}, nullptr);
            for (int64_t T : {1, 2, 3, 4, 5, 8, 13, 33}) {
                std::vector<float> x(T * K), out(T * N, -1.0f), ref(T * N, -2.0f);
                for (auto& v : x) v = nd(rng);
                for (const float* b : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
                    quant_matmul(x.data(), T, K, w, out.data(), b);
                    cpu::gemm_nt_f32(x.data(), T, K, wf.data(), N, b, ref.data());
                    ASSERT_EQ(0, std::memcmp(out.data(), ref.data(), out.size() * sizeof(float)))
                        << dtype_name(t) << " K=" << K << " N=" << N << " T=" << T << " bias=" << (b != nullptr);
                }
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantMatmul,
                         ::testing::Values(DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                                           DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kF16, DType::kBF16,
                                           DType::kF32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// int8 activations: x is rounded to d * q per block of 32 (d = max|x| / 127), so with w the
// dequantized weights the exact result is sum_k w_k * (d q)_k and the error against the f32 product
// is bounded by sum over blocks of (d / 2) * sum_k |w_k| (each rounded x is off by at most d / 2),
// plus f32 rounding. The result must also not depend on how many rows share the call.
class Int8Matmul : public ::testing::TestWithParam<DType> {};

TEST_P(Int8Matmul, WithinActivationRoundingBoundAndRowCountInvariant) {
    const DType t = GetParam();
    ASSERT_TRUE(int8_matmul_supports(t));
    std::mt19937 rng(5);
    const int64_t N = 53, K = 576, nb = K / 32;
    auto wbytes = random_weight(t, N, K, rng);
    std::vector<float> wf(N * K);
    ASSERT_TRUE(dequantize(t, wbytes.data(), wf.data(), N * K).is_ok());
    Tensor w = Tensor::view(wbytes.data(), t, {N, K}, nullptr);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int64_t T = 9;
    std::vector<float> x(T * K), out(T * N), one(N);
    for (auto& v : x) v = nd(rng);
    x[5] = 40.0f;  // one outlier: its block gets a coarse scale
    int8_matmul(x.data(), T, K, w, out.data());
    for (int64_t ti = 0; ti < T; ++ti) {
        int8_matmul(x.data() + ti * K, 1, K, w, one.data());
        EXPECT_EQ(0, std::memcmp(one.data(), out.data() + ti * N, N * sizeof(float))) << dtype_name(t) << " row " << ti;
        for (int64_t n = 0; n < N; ++n) {
            double ref = 0, bound = 0, mag = 0;
            for (int64_t b = 0; b < nb; ++b) {
                double amax = 0, wabs = 0;
                for (int j = 0; j < 32; ++j) {
                    const int64_t k = 32 * b + j;
                    amax = std::max(amax, std::fabs(static_cast<double>(x[ti * K + k])));
                    wabs += std::fabs(wf[n * K + k]);
                    ref += static_cast<double>(x[ti * K + k]) * wf[n * K + k];
                    mag += std::fabs(static_cast<double>(x[ti * K + k]) * wf[n * K + k]);
                }
                bound += amax / 127.0 / 2.0 * wabs;
            }
            EXPECT_NEAR(out[ti * N + n], ref, bound * 1.001 + 1e-5 * mag + 1e-6) << dtype_name(t) << " n=" << n;
        }
    }
}

TEST(Int8Matmul, SwitchRoutesQuantMatmulAndLeavesOtherTypesExact) {
    std::mt19937 rng(3);
    const int64_t N = 7, K = 256;
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(K), a(N), b(N);
    for (auto& v : x) v = nd(rng);
    for (DType t : {DType::kQ4_1, DType::kQ4_K}) {
        auto wbytes = random_weight(t, N, K, rng);
        Tensor w = Tensor::view(wbytes.data(), t, {N, K}, nullptr);
        set_int8_activations(true);
        quant_matmul(x.data(), 1, K, w, a.data());
        set_int8_activations(false);
        quant_matmul(x.data(), 1, K, w, b.data());
        const bool same = std::memcmp(a.data(), b.data(), N * sizeof(float)) == 0;
        EXPECT_EQ(same, !int8_matmul_supports(t)) << dtype_name(t);
    }
    const std::string isa = int8_matmul_isa();
    EXPECT_TRUE(isa == "avx512vnni" || isa == "avxvnni" || isa == "avx2") << isa;
}

INSTANTIATE_TEST_SUITE_P(Legacy32Blocks, Int8Matmul,
                         ::testing::Values(DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace kite::ops
