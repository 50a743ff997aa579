// ops::linear (dense f32 gemm) against a double-precision product on awkward shapes, and its batch
// invariance: each row computed alone, in batches of any size, or with another thread count gives
// the same bits.
#include <gtest/gtest.h>

#include <cmath>

#include "core/parallel.h"
#include "ops/ops.h"
#include "test_ops_util.h"

namespace kite::ops {
namespace {

using testing::random_floats;
using testing::tensor_of;
using testing::values_of;

// out = x w^T + b in float through ops::linear.
std::vector<float> run_linear(const std::vector<float>& x, int64_t T, int64_t K, const std::vector<float>& w, int64_t N,
                              const std::vector<float>* bias) {
    Tensor xt = tensor_of(x, {T, K});
    Weight wt{tensor_of(w, {N, K})};
    Tensor bt = bias ? tensor_of(*bias, {N}) : Tensor();
    Tensor out = Tensor::zeros(DType::kF32, {T, N});
    const Status st = linear(xt, wt, bias ? &bt : nullptr, out);
    EXPECT_TRUE(st.is_ok()) << st.message();
    return values_of(out);
}

struct Shape {
    int64_t T, K, N;
};

TEST(OpsGemm, MatchesDoubleReference) {
    const Shape shapes[] = {{1, 1, 1},   {1, 7, 3},    {1, 64, 192},  {7, 769, 13},   {4, 8, 12},  {5, 9, 25},
                            {3, 17, 50}, {2, 5125, 9}, {16, 96, 97},  {33, 40, 24},   {7, 769, 131}};
    for (const Shape& s : shapes) {
        for (bool with_bias : {false, true}) {
            const auto x = random_floats(s.T * s.K, 11), w = random_floats(s.N * s.K, 12), b = random_floats(s.N, 13);
            const auto got = run_linear(x, s.T, s.K, w, s.N, with_bias ? &b : nullptr);
            for (int64_t t = 0; t < s.T; ++t) {
                for (int64_t n = 0; n < s.N; ++n) {
                    double want = with_bias ? b[n] : 0.0, mag = std::abs(want);
                    for (int64_t k = 0; k < s.K; ++k) {
                        want += double(x[t * s.K + k]) * w[n * s.K + k];
                        mag += std::abs(double(x[t * s.K + k]) * w[n * s.K + k]);
                    }
                    // f32 accumulation in 8 lanes: error grows with the sum of magnitudes.
                    ASSERT_NEAR(got[t * s.N + n], want, 4e-7 * mag + 1e-6)
                        << "T=" << s.T << " K=" << s.K << " N=" << s.N << " at (" << t << ", " << n << ")";
                }
            }
        }
    }
}

TEST(OpsGemm, RowsAloneEqualRowsInBatchBitForBit) {
    for (int64_t K : {1, 8, 13, 64, 769}) {
        const int64_t N = 53;  // not a multiple of any tile width
        const auto w = random_floats(N * K, 21), b = random_floats(N, 22);
        const int64_t T_max = 19;
        const auto x = random_floats(T_max * K, 23);
        std::vector<std::vector<float>> alone;
        for (int64_t t = 0; t < T_max; ++t) {
            const std::vector<float> row(x.begin() + t * K, x.begin() + (t + 1) * K);
            alone.push_back(run_linear(row, 1, K, w, N, &b));
        }
        for (int64_t T : {1, 2, 3, 4, 5, 7, 8, 12, 16, 19}) {
            // Rows [offset, offset + T): the same row lands in different tile positions.
            for (int64_t offset : {int64_t(0), T_max - T}) {
                const std::vector<float> xs(x.begin() + offset * K, x.begin() + (offset + T) * K);
                const auto got = run_linear(xs, T, K, w, N, &b);
                for (int64_t t = 0; t < T; ++t)
                    ASSERT_EQ(0, std::memcmp(got.data() + t * N, alone[offset + t].data(), N * sizeof(float)))
                        << "K=" << K << " T=" << T << " row " << offset + t;
            }
        }
    }
}

TEST(OpsGemm, ThreadCountDoesNotChangeBits) {
    const int64_t T = 37, K = 300, N = 1000;  // big enough to be split over threads
    const auto x = random_floats(T * K, 31), w = random_floats(N * K, 32);
    const int before = num_threads();
    set_num_threads(1);
    const auto one = run_linear(x, T, K, w, N, nullptr);
    set_num_threads(3);
    const auto three = run_linear(x, T, K, w, N, nullptr);
    set_num_threads(before);
    EXPECT_EQ(one, three);
}

TEST(OpsGemm, RejectsMismatchedShapes) {
    Tensor x = Tensor::zeros(DType::kF32, {2, 5});
    Weight w{Tensor::zeros(DType::kF32, {3, 6})};
    Tensor out = Tensor::zeros(DType::kF32, {2, 3});
    const Status st = linear(x, w, nullptr, out);
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("does not match weight"), std::string::npos) << st.message();
    Weight ok{Tensor::zeros(DType::kF32, {3, 5})};
    Tensor bad_out = Tensor::zeros(DType::kF32, {2, 4});
    EXPECT_FALSE(linear(x, ok, nullptr, bad_out).is_ok());
}

}  // namespace
}  // namespace kite::ops
