// The MLA ops (latent cache, absorbed query, attention over latents, value projection) against
// attention over expanded per-head keys and values in double precision, as transformers computes
// DeepSeek attention; and their batch invariance (a query row's bits alone = in a chunk).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "ops/mla.h"
#include "test_ops_util.h"

namespace kite::ops {
namespace {

using testing::random_floats;
using testing::tensor_of;
using testing::values_of;

struct MlaFixture {
    MlaDims d;
    int64_t block_size = 4, ctx;
    std::vector<float> kv_a, norm_w, w_kvb, q, angles;  // one sequence of ctx tokens
    MlaFixture(MlaDims dims, int64_t context, uint32_t seed) : d(dims), ctx(context) {
        kv_a = random_floats(ctx * d.row(), seed);
        norm_w = random_floats(d.latent, seed + 1, 0.5f, 1.5f);
        w_kvb = random_floats(d.heads * (d.nope + d.v) * d.latent, seed + 2, -0.4f, 0.4f);
        q = random_floats(ctx * d.heads * (d.nope + d.rope), seed + 3);
        angles = random_floats(ctx * d.rope / 2, seed + 4, -3.0f, 3.0f);
    }
    Tensor cos_of(int64_t first, int64_t n) const { return trig(first, n, true); }
    Tensor sin_of(int64_t first, int64_t n) const { return trig(first, n, false); }
    Tensor trig(int64_t first, int64_t n, bool c) const {
        std::vector<float> v;
        for (int64_t i = first * d.rope / 2; i < (first + n) * d.rope / 2; ++i)
            v.push_back(static_cast<float>(c ? std::cos(angles[i]) : std::sin(angles[i])));
        return tensor_of(v, {n, d.rope / 2});
    }
    // W_UK^T [heads, latent, nope] and W_UV [heads, v, latent] from kv_b_proj rows.
    Tensor w_uk_t() const {
        std::vector<float> v(d.heads * d.latent * d.nope);
        for (int64_t h = 0; h < d.heads; ++h)
            for (int64_t i = 0; i < d.nope; ++i)
                for (int64_t l = 0; l < d.latent; ++l)
                    v[(h * d.latent + l) * d.nope + i] = w_kvb[(h * (d.nope + d.v) + i) * d.latent + l];
        return tensor_of(v, {d.heads, d.latent, d.nope});
    }
    Tensor w_uv() const {
        std::vector<float> v(d.heads * d.v * d.latent);
        for (int64_t h = 0; h < d.heads; ++h)
            for (int64_t i = 0; i < d.v; ++i)
                for (int64_t l = 0; l < d.latent; ++l)
                    v[(h * d.v + i) * d.latent + l] = w_kvb[(h * (d.nope + d.v) + d.nope + i) * d.latent + l];
        return tensor_of(v, {d.heads, d.v, d.latent});
    }
    // Expanded attention of query positions [first, first + n) in double: [n, heads * v].
    std::vector<double> reference(int64_t first, int64_t n, double scale) const {
        const int64_t half = d.rope / 2, qd = d.nope + d.rope;
        auto rope = [&](const float* x, int64_t pos, double* out) {
            for (int64_t i = 0; i < half; ++i) {
                const double c = std::cos(angles[pos * half + i]), s = std::sin(angles[pos * half + i]);
                out[i] = x[i] * c - x[i + half] * s;
                out[i + half] = x[i + half] * c + x[i] * s;
            }
        };
        std::vector<std::vector<double>> k(ctx * d.heads), v(ctx * d.heads);
        for (int64_t j = 0; j < ctx; ++j) {
            const float* a = kv_a.data() + j * d.row();
            double ss = 0;
            for (int64_t l = 0; l < d.latent; ++l) ss += double(a[l]) * a[l];
            const double inv = 1.0 / std::sqrt(ss / d.latent + 1e-6);
            std::vector<double> c(d.latent), kpe(d.rope);
            for (int64_t l = 0; l < d.latent; ++l) c[l] = a[l] * inv * norm_w[l];
            rope(a + d.latent, j, kpe.data());
            for (int64_t h = 0; h < d.heads; ++h) {
                std::vector<double>& kh = k[j * d.heads + h];
                std::vector<double>& vh = v[j * d.heads + h];
                for (int64_t i = 0; i < d.nope + d.v; ++i) {
                    double y = 0;
                    for (int64_t l = 0; l < d.latent; ++l) y += w_kvb[(h * (d.nope + d.v) + i) * d.latent + l] * c[l];
                    (i < d.nope ? kh : vh).push_back(y);
                }
                kh.insert(kh.end(), kpe.begin(), kpe.end());
            }
        }
        std::vector<double> out;
        for (int64_t t = first; t < first + n; ++t) {
            for (int64_t h = 0; h < d.heads; ++h) {
                const float* qh = q.data() + (t * d.heads + h) * qd;
                std::vector<double> qq(qh, qh + d.nope);
                qq.resize(qd);
                rope(qh + d.nope, t, qq.data() + d.nope);
                std::vector<double> p(t + 1);
                double mx = -1e300, z = 0;
                for (int64_t j = 0; j <= t; ++j) {
                    p[j] = scale * std::inner_product(qq.begin(), qq.end(), k[j * d.heads + h].begin(), 0.0);
                    mx = std::max(mx, p[j]);
                }
                for (double& x : p) z += (x = std::exp(x - mx));
                for (int64_t i = 0; i < d.v; ++i) {
                    double o = 0;
                    for (int64_t j = 0; j <= t; ++j) o += p[j] / z * v[j * d.heads + h][i];
                    out.push_back(o);
                }
            }
        }
        return out;
    }
};

// Writes the whole sequence's latents (block ids reversed, so the table matters), then attends
// query positions [first, first + n): [n, heads * v].
std::vector<float> run_ops(const MlaFixture& f, int64_t first, int64_t n, float scale) {
    const MlaDims& d = f.d;
    const int64_t blocks = (f.ctx + f.block_size - 1) / f.block_size;
    Tensor pool = Tensor::zeros(DType::kF32, {blocks + 1, f.block_size, d.row()});
    std::vector<int32_t> table(blocks);
    std::vector<int64_t> slots(f.ctx);
    for (int64_t b = 0; b < blocks; ++b) table[b] = static_cast<int32_t>(blocks - b);
    for (int64_t j = 0; j < f.ctx; ++j) slots[j] = int64_t(table[j / f.block_size]) * f.block_size + j % f.block_size;
    EXPECT_TRUE(mla_write_latent(tensor_of(f.kv_a, {f.ctx, d.row()}), d, tensor_of(f.norm_w, {d.latent}), 1e-6f,
                                 f.cos_of(0, f.ctx), f.sin_of(0, f.ctx), slots, pool)
                    .is_ok());
    const int64_t qd = d.nope + d.rope;
    Tensor q = tensor_of(std::vector<float>(f.q.begin() + first * d.heads * qd, f.q.begin() + (first + n) * d.heads * qd),
                         {n, d.heads, qd});
    Tensor q_abs = Tensor::zeros(DType::kF32, {n, d.heads, d.row()});
    EXPECT_TRUE(mla_absorb_query(q, d, f.w_uk_t(), f.cos_of(first, n), f.sin_of(first, n), q_abs).is_ok());
    Tensor o_lat = Tensor::zeros(DType::kF32, {n, d.heads, d.latent});
    const std::vector<int32_t> qs = {0, static_cast<int32_t>(n)}, ctx = {static_cast<int32_t>(first + n)};
    EXPECT_TRUE(mla_attention(q_abs, pool, d, qs, ctx, {table}, scale, o_lat).is_ok());
    Tensor out = Tensor::zeros(DType::kF32, {n, d.heads * d.v});
    EXPECT_TRUE(mla_project_values(o_lat, d, f.w_uv(), out).is_ok());
    return values_of(out);
}

TEST(MlaOps, AbsorbedAttentionMatchesExpandedHeads) {
    for (const MlaDims d : {MlaDims{4, 16, 8, 16, 16}, MlaDims{3, 36, 6, 10, 12}}) {
        const MlaFixture f(d, 13, 7);
        const float scale = 1.0f / std::sqrt(float(d.nope + d.rope));
        const std::vector<float> got = run_ops(f, 0, f.ctx, scale);
        const std::vector<double> want = f.reference(0, f.ctx, scale);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-5) << i;
    }
}

TEST(MlaOps, QueryRowsAreTheSameBitsInAChunkOrAlone) {
    const MlaDims d{4, 16, 8, 16, 16};
    const MlaFixture f(d, 11, 9);
    const std::vector<float> all = run_ops(f, 0, f.ctx, 0.2f);
    const int64_t row = d.heads * d.v;
    const std::vector<float> tail = run_ops(f, 6, 5, 0.2f);  // chunked prefill: rows 6..10
    const std::vector<float> last = run_ops(f, 10, 1, 0.2f);  // decode of the last token
    for (int64_t i = 0; i < 5 * row; ++i) ASSERT_EQ(tail[i], all[6 * row + i]) << i;
    for (int64_t i = 0; i < row; ++i) ASSERT_EQ(last[i], all[10 * row + i]) << i;
}

TEST(MlaOps, BadShapesAreErrors) {
    const MlaDims d{2, 8, 4, 4, 4};
    Tensor pool = Tensor::zeros(DType::kF32, {2, 4, 10});  // row should be 12
    Tensor kv_a = tensor_of(random_floats(12, 1), {1, 12});
    Tensor trig = tensor_of({1, 1}, {1, 2});
    const std::vector<int64_t> slots = {0};
    EXPECT_FALSE(mla_write_latent(kv_a, d, tensor_of(random_floats(8, 2), {8}), 1e-6f, trig, trig, slots, pool).is_ok());
    MlaDims odd = d;
    odd.rope = 3;
    EXPECT_FALSE(mla_write_latent(kv_a, odd, tensor_of(random_floats(8, 2), {8}), 1e-6f, trig, trig, slots, pool).is_ok());
}

}  // namespace
}  // namespace kite::ops
