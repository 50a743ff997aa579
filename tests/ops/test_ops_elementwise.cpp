// rms_norm, add_rms_norm, silu_mul, rope, embedding, write_kv and add_inplace against double-precision
// references on widths that are not multiples of 8 (1, 7, 769, 5125), one row and many; and row
// independence: a row normalised alone equals the same row inside a batch, bit for bit.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "test_ops_util.h"

namespace kite::ops {
namespace {

using testing::random_floats;
using testing::tensor_of;
using testing::values_of;

double ref_rms_inv(const float* x, int64_t n, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
    return 1.0 / std::sqrt(ss / n + eps);
}

TEST(OpsNorm, RmsNormMatchesReference) {
    for (int64_t n : {1, 7, 8, 64, 769, 5125}) {
        for (int64_t rows : {1, 7}) {
            const auto x = random_floats(rows * n, 1, -3.0f, 3.0f), w = random_floats(n, 2);
            Tensor xt = tensor_of(x, {rows, n}), out = Tensor::zeros(DType::kF32, {rows, n});
            ASSERT_TRUE(rms_norm(xt, tensor_of(w, {n}), 1e-5f, out).is_ok());
            const auto got = values_of(out);
            for (int64_t r = 0; r < rows; ++r) {
                const double inv = ref_rms_inv(x.data() + r * n, n, 1e-5f);
                for (int64_t i = 0; i < n; ++i)
                    ASSERT_NEAR(got[r * n + i], w[i] * x[r * n + i] * inv, 2e-6 * (1 + std::abs(w[i] * x[r * n + i] * inv)))
                        << "n=" << n << " row " << r << " col " << i;
            }
        }
    }
}

TEST(OpsNorm, AddRmsNormUpdatesResidualAndNormalises) {
    for (int64_t n : {7, 769, 5125}) {
        const int64_t rows = 5;
        const auto res = random_floats(rows * n, 3, -2.0f, 2.0f), x = random_floats(rows * n, 4), w = random_floats(n, 5);
        Tensor rt = tensor_of(res, {rows, n}), out = Tensor::zeros(DType::kF32, {rows, n});
        ASSERT_TRUE(add_rms_norm(rt, tensor_of(x, {rows, n}), tensor_of(w, {n}), 1e-6f, out).is_ok());
        const auto new_res = values_of(rt), got = values_of(out);
        for (int64_t i = 0; i < rows * n; ++i) ASSERT_EQ(new_res[i], res[i] + x[i]);  // one f32 add: exact reference
        for (int64_t r = 0; r < rows; ++r) {
            const double inv = ref_rms_inv(new_res.data() + r * n, n, 1e-6f);
            for (int64_t i = 0; i < n; ++i)
                ASSERT_NEAR(got[r * n + i], w[i] * new_res[r * n + i] * inv, 2e-6 * (1 + std::abs(new_res[r * n + i] * inv)));
        }
    }
}

TEST(OpsNorm, RowAloneEqualsRowInBatch) {
    const int64_t n = 769, rows = 33;  // enough rows to be split over threads
    const auto x = random_floats(rows * n, 6), w = random_floats(n, 7);
    Tensor all = Tensor::zeros(DType::kF32, {rows, n});
    ASSERT_TRUE(rms_norm(tensor_of(x, {rows, n}), tensor_of(w, {n}), 1e-5f, all).is_ok());
    for (int64_t r : {int64_t(0), int64_t(17), rows - 1}) {
        Tensor one = Tensor::zeros(DType::kF32, {1, n});
        const std::vector<float> row(x.begin() + r * n, x.begin() + (r + 1) * n);
        ASSERT_TRUE(rms_norm(tensor_of(row, {1, n}), tensor_of(w, {n}), 1e-5f, one).is_ok());
        EXPECT_EQ(0, std::memcmp(one.data<float>(), all.data<float>() + r * n, n * sizeof(float))) << "row " << r;
    }
}

TEST(OpsElementwise, SiluMulMatchesReference) {
    for (int64_t n : {1, 7, 769}) {
        const int64_t T = 3;
        const auto gu = random_floats(T * 2 * n, 8, -6.0f, 6.0f);
        Tensor out = Tensor::zeros(DType::kF32, {T, n});
        ASSERT_TRUE(silu_mul(tensor_of(gu, {T, 2 * n}), out).is_ok());
        const auto got = values_of(out);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t i = 0; i < n; ++i) {
                const double g = gu[t * 2 * n + i], u = gu[t * 2 * n + n + i];
                const double want = g / (1.0 + std::exp(-g)) * u;
                ASSERT_NEAR(got[t * n + i], want, 1e-6 * (1 + std::abs(want)));
            }
    }
    Tensor odd = Tensor::zeros(DType::kF32, {2, 5}), out = Tensor::zeros(DType::kF32, {2, 2});
    EXPECT_FALSE(silu_mul(odd, out).is_ok());
}

TEST(OpsElementwise, RopeRotatesPairsOfHalves) {
    const int64_t T = 2, heads = 3, D = 10;
    const int rot = 6;  // partial rotary: dims 6..9 untouched
    const auto x = random_floats(T * heads * D, 9), c = random_floats(T * rot / 2, 10), s = random_floats(T * rot / 2, 11);
    Tensor xt = tensor_of(x, {T, heads, D});
    ASSERT_TRUE(rope(xt, tensor_of(c, {T, rot / 2}), tensor_of(s, {T, rot / 2}), rot).is_ok());
    const auto got = values_of(xt);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < heads; ++h) {
            const int64_t b = (t * heads + h) * D;
            for (int i = 0; i < rot / 2; ++i) {
                const double ci = c[t * rot / 2 + i], si = s[t * rot / 2 + i], a = x[b + i], z = x[b + i + rot / 2];
                EXPECT_NEAR(got[b + i], a * ci - z * si, 1e-6);
                EXPECT_NEAR(got[b + i + rot / 2], z * ci + a * si, 1e-6);
            }
            for (int64_t i = rot; i < D; ++i) EXPECT_EQ(got[b + i], x[b + i]);
        }
    Tensor c_bad = Tensor::zeros(DType::kF32, {T, 2});
    EXPECT_FALSE(rope(xt, c_bad, c_bad, rot).is_ok());
    EXPECT_FALSE(rope(xt, tensor_of(c, {T, rot / 2}), tensor_of(s, {T, rot / 2}), 7).is_ok());
}

TEST(OpsElementwise, RopeInterleavedRotatesAdjacentPairs) {
    const int64_t T = 3, heads = 2, D = 12;
    const int rot = 8;  // GLM-style partial rotary: pairs (0,1) .. (6,7) rotate, dims 8..11 untouched
    const auto x = random_floats(T * heads * D, 17), c = random_floats(T * rot / 2, 18), s = random_floats(T * rot / 2, 19);
    Tensor xt = tensor_of(x, {T, heads, D});
    ASSERT_TRUE(rope(xt, tensor_of(c, {T, rot / 2}), tensor_of(s, {T, rot / 2}), rot, RopeLayout::kInterleaved).is_ok());
    const auto got = values_of(xt);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < heads; ++h) {
            const int64_t b = (t * heads + h) * D;
            for (int i = 0; i < rot / 2; ++i) {
                const double ci = c[t * rot / 2 + i], si = s[t * rot / 2 + i], a = x[b + 2 * i], z = x[b + 2 * i + 1];
                EXPECT_NEAR(got[b + 2 * i], a * ci - z * si, 1e-6);
                EXPECT_NEAR(got[b + 2 * i + 1], z * ci + a * si, 1e-6);
            }
            for (int64_t i = rot; i < D; ++i) EXPECT_EQ(got[b + i], x[b + i]);
        }
}

TEST(OpsElementwise, EmbeddingGathersRowsAndRejectsBadIds) {
    const int64_t V = 11, H = 13;
    const auto table = random_floats(V * H, 12);
    const std::vector<int32_t> ids = {10, 0, 3, 3};
    Tensor out = Tensor::zeros(DType::kF32, {4, H});
    ASSERT_TRUE(embedding(tensor_of(table, {V, H}), ids, out).is_ok());
    for (size_t t = 0; t < ids.size(); ++t)
        EXPECT_EQ(0, std::memcmp(out.data<float>() + t * H, table.data() + ids[t] * H, H * sizeof(float)));
    const std::vector<int32_t> bad = {11};
    Tensor one = Tensor::zeros(DType::kF32, {1, H});
    const Status st = embedding(tensor_of(table, {V, H}), bad, one);
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("outside the vocabulary"), std::string::npos) << st.message();
}

TEST(OpsElementwise, WriteKvPlacesRowsAtSlotsAndAddInplaceAdds) {
    const int64_t blocks = 3, bs = 4, kvh = 2, D = 5, T = 3;
    Tensor kp = Tensor::zeros(DType::kF32, {blocks, bs, kvh, D}), vp = Tensor::zeros(DType::kF32, {blocks, bs, kvh, D});
    const auto k = random_floats(T * kvh * D, 13), v = random_floats(T * kvh * D, 14);
    const std::vector<int64_t> slots = {11, 0, 6};
    ASSERT_TRUE(write_kv(tensor_of(k, {T, kvh, D}), tensor_of(v, {T, kvh, D}), slots, kp, vp).is_ok());
    for (int64_t t = 0; t < T; ++t) {
        EXPECT_EQ(0, std::memcmp(kp.data<float>() + slots[t] * kvh * D, k.data() + t * kvh * D, kvh * D * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(vp.data<float>() + slots[t] * kvh * D, v.data() + t * kvh * D, kvh * D * sizeof(float)));
    }
    const std::vector<int64_t> outside = {0, 1, 12};
    EXPECT_FALSE(write_kv(tensor_of(k, {T, kvh, D}), tensor_of(v, {T, kvh, D}), outside, kp, vp).is_ok());

    // Values narrower than keys (MLA-style pools): each pool gets its own row width.
    Tensor vp_narrow = Tensor::zeros(DType::kF32, {blocks, bs, kvh, 3});
    const auto vn = random_floats(T * kvh * 3, 20);
    ASSERT_TRUE(write_kv(tensor_of(k, {T, kvh, D}), tensor_of(vn, {T, kvh, 3}), slots, kp, vp_narrow).is_ok());
    for (int64_t t = 0; t < T; ++t)
        EXPECT_EQ(0, std::memcmp(vp_narrow.data<float>() + slots[t] * kvh * 3, vn.data() + t * kvh * 3, kvh * 3 * sizeof(float)));
    EXPECT_FALSE(write_kv(tensor_of(k, {T, kvh, D}), tensor_of(v, {T, kvh, D}), slots, kp, vp_narrow).is_ok());

    const auto a = random_floats(769, 15), b = random_floats(769, 16);
    Tensor at = tensor_of(a, {769});
    ASSERT_TRUE(add_inplace(at, tensor_of(b, {769})).is_ok());
    for (int i = 0; i < 769; ++i) ASSERT_EQ(at.data<float>()[i], a[i] + b[i]);
    EXPECT_FALSE(add_inplace(at, Tensor::zeros(DType::kF32, {5})).is_ok());
}

}  // namespace
}  // namespace kite::ops
