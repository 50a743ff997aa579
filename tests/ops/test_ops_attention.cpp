// ops::paged_attention against a double-precision causal softmax on ragged batches with shuffled
// block tables, GQA, sliding windows, head sizes that are not multiples of 8, logit soft-capping,
// ALiBi and a value head size unlike the key's; and its batch
// invariance: a sequence's rows are the same bits alone, inside a ragged batch, when its queries
// come in chunks, and with another thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/parallel.h"
#include "ops/ops.h"
#include "test_ops_util.h"

namespace kite::ops {
namespace {

using testing::random_floats;
using testing::tensor_of;
using testing::values_of;

struct Config {
    int64_t heads, kv_heads, head_dim, block_size;
    int window;
    int64_t v_head_dim = 0;  // 0: head_dim
    float softcap = 0.0f;
    bool alibi = false;
    bool falcon = false;  // ALiBi in transformers' Falcon form
    int64_t dv() const { return v_head_dim > 0 ? v_head_dim : head_dim; }
};

// x rounded to bf16's 8 significant bits, ties to even (the default rounding mode of nearbyint).
float to_bf16(float x) {
    if (x == 0.0f) return x;
    const double q = std::ldexp(1.0, std::ilogb(x) - 7);
    return static_cast<float>(std::nearbyint(x / q) * q);
}

struct Seq {
    int32_t context, n_new;
    std::vector<int32_t> blocks;
};

// A pool with `num_blocks` random blocks and sequences whose tables are disjoint shuffled block ids.
struct Fixture {
    Config c;
    int64_t num_blocks;
    Tensor k_pool, v_pool;
    std::vector<Seq> seqs;
    std::vector<float> slopes;

    Fixture(const Config& cfg, const std::vector<std::pair<int32_t, int32_t>>& ctx_new, uint32_t seed) : c(cfg) {
        int64_t need = 0;
        for (auto [ctx, n] : ctx_new) need += (ctx + c.block_size - 1) / c.block_size;
        num_blocks = need + 3;
        const int64_t slots = num_blocks * c.block_size * c.kv_heads;
        k_pool = tensor_of(random_floats(slots * c.head_dim, seed, -2.0f, 2.0f), {num_blocks, c.block_size, c.kv_heads, c.head_dim});
        v_pool = tensor_of(random_floats(slots * c.dv(), seed + 1), {num_blocks, c.block_size, c.kv_heads, c.dv()});
        if (c.alibi) slopes = alibi_slopes(c.heads);
        std::vector<int32_t> ids(num_blocks);
        std::iota(ids.begin(), ids.end(), 0);
        std::shuffle(ids.begin(), ids.end(), std::mt19937(seed + 2));
        size_t next = 0;
        for (auto [ctx, n] : ctx_new) {
            Seq s{ctx, n, {}};
            for (int64_t b = 0; b < (ctx + c.block_size - 1) / c.block_size; ++b) s.blocks.push_back(ids[next++]);
            seqs.push_back(s);
        }
    }

    // Attention for the chosen sequences (indices into seqs) with queries q [rows, heads, head_dim].
    std::vector<float> run(const std::vector<size_t>& which, const std::vector<float>& q) const {
        std::vector<int32_t> qs = {0}, ctx;
        std::vector<std::vector<int32_t>> tables;
        for (size_t i : which) {
            qs.push_back(qs.back() + seqs[i].n_new);
            ctx.push_back(seqs[i].context);
            tables.push_back(seqs[i].blocks);
        }
        const int64_t T = qs.back();
        Tensor qt = tensor_of(q, {T, c.heads, c.head_dim});
        Tensor out = Tensor::zeros(DType::kF32, {T, c.heads, c.dv()});
        AttentionParams p;
        p.scale = 1.0f / std::sqrt(float(c.head_dim));
        p.sliding_window = c.window;
        p.logit_softcap = c.softcap;
        p.alibi_slopes = slopes;
        p.alibi_falcon_bf16 = c.falcon;
        const Status st = paged_attention(qt, k_pool, v_pool, qs, ctx, tables, p, out);
        EXPECT_TRUE(st.is_ok()) << st.message();
        return values_of(out);
    }

    // Double-precision reference for row i (of n_new) of sequence s, head h: transformers' order
    // (scale, soft-cap, then Bloom's ALiBi bias slope * key position, absolute as Bloom adds it).
    std::vector<double> reference(size_t s, int64_t i, int64_t h, const float* qv) const {
        const Seq& sq = seqs[s];
        const int64_t pos = sq.context - sq.n_new + i, kvh = h / (c.heads / c.kv_heads);
        const int64_t first = c.window > 0 ? std::max<int64_t>(0, pos - c.window + 1) : 0;
        auto row = [&](const Tensor& pool, int64_t j, int64_t dim) {
            const int64_t slot = int64_t(sq.blocks[j / c.block_size]) * c.block_size + j % c.block_size;
            return pool.data<float>() + (slot * c.kv_heads + kvh) * dim;
        };
        std::vector<double> sc;
        double mx = -1e300;
        for (int64_t j = first; j <= pos; ++j) {
            double d = 0.0;
            for (int64_t e = 0; e < c.head_dim; ++e) d += double(qv[e]) * row(k_pool, j, c.head_dim)[e];
            // Falcon: bf16 bias inside the scores and again through the causal mask, both scaled.
            const double b = c.falcon ? to_bf16(to_bf16(slopes[h]) * float(j)) : 0.0;
            d = (d + b) / std::sqrt(double(c.head_dim)) + b / std::sqrt(double(c.head_dim));
            if (c.softcap > 0) d = c.softcap * std::tanh(d / c.softcap);
            if (c.alibi && !c.falcon) d += double(slopes[h]) * double(j);
            sc.push_back(d);
            mx = std::max(mx, sc.back());
        }
        double sum = 0.0;
        for (double& v : sc) sum += (v = std::exp(v - mx));
        std::vector<double> o(c.dv(), 0.0);
        for (int64_t j = first; j <= pos; ++j)
            for (int64_t e = 0; e < c.dv(); ++e) o[e] += sc[j - first] / sum * row(v_pool, j, c.dv())[e];
        return o;
    }
};

const Config kConfigs[] = {
    {8, 4, 8, 4, 0},     // stories260K-like: tiny heads, GQA 2
    {4, 1, 64, 16, 0},   // multi-query
    {6, 2, 80, 8, 5},    // sliding window; 80 = 2*32 + 16
    {2, 2, 12, 3, 0},    // head_dim not a multiple of 8, odd block size
    {4, 2, 128, 16, 7},  // large heads, window
    {3, 3, 5, 2, 0},     // head_dim below one vector
    {8, 2, 64, 16, 0, 0, 5.0f},               // Gemma-2 logit soft-capping (a cap low enough to bite)
    {6, 6, 40, 4, 0, 0, 0.0f, true},          // ALiBi, 6 heads (not a power of two: the extra slopes)
    {4, 4, 16, 4, 6, 0, 0.0f, true},          // ALiBi with a sliding window
    {4, 2, 48, 8, 0, 0, 3.0f, true},          // both
    {4, 1, 40, 4, 0, 24, 0.0f},               // v_head_dim (24) below the qk head_dim (40), MLA-like
    {2, 2, 16, 8, 5, 72, 0.0f},               // v_head_dim above head_dim, window
    {12, 4, 24, 4, 0, 0, 0.0f, true, true},   // Falcon-form ALiBi; 12 heads: slopes 2^-(k/2) need bf16 rounding
};

// Ragged batch: a decode row, a prefill, a chunk in the middle of a long context, a one-token prompt.
const std::vector<std::pair<int32_t, int32_t>> kBatch = {{37, 1}, {23, 23}, {50, 9}, {1, 1}, {70, 4}};

TEST(OpsAttention, MatchesDoubleReference) {
    for (const Config& c : kConfigs) {
        Fixture f(c, kBatch, 41);
        std::vector<size_t> all(f.seqs.size());
        std::iota(all.begin(), all.end(), 0);
        int64_t T = 0;
        for (const Seq& s : f.seqs) T += s.n_new;
        const auto q = random_floats(T * c.heads * c.head_dim, 42, -2.0f, 2.0f);
        const auto got = f.run(all, q);
        int64_t row = 0;
        for (size_t s = 0; s < f.seqs.size(); ++s) {
            for (int64_t i = 0; i < f.seqs[s].n_new; ++i, ++row) {
                for (int64_t h = 0; h < c.heads; ++h) {
                    const int64_t at = (row * c.heads + h) * c.head_dim, out_at = (row * c.heads + h) * c.dv();
                    const auto want = f.reference(s, i, h, q.data() + at);
                    for (int64_t e = 0; e < c.dv(); ++e)
                        ASSERT_NEAR(got[out_at + e], want[e], 2e-5)
                            << "head_dim " << c.head_dim << " v_head_dim " << c.dv() << " softcap " << c.softcap
                            << " alibi " << c.alibi << " seq " << s << " row " << i << " head " << h;
                }
            }
        }
    }
}

TEST(OpsAttention, SequenceAloneEqualsSequenceInRaggedBatch) {
    for (const Config& c : kConfigs) {
        Fixture f(c, kBatch, 51);
        const int64_t row_elems = c.heads * c.head_dim, out_row = c.heads * c.dv();
        std::vector<int64_t> offset = {0};
        for (const Seq& s : f.seqs) offset.push_back(offset.back() + s.n_new);
        const auto q = random_floats(offset.back() * row_elems, 52, -2.0f, 2.0f);
        std::vector<size_t> all(f.seqs.size());
        std::iota(all.begin(), all.end(), 0);
        const auto batched = f.run(all, q);
        const std::vector<size_t> reversed(all.rbegin(), all.rend());
        std::vector<float> q_rev;
        for (size_t s : reversed) q_rev.insert(q_rev.end(), q.begin() + offset[s] * row_elems, q.begin() + offset[s + 1] * row_elems);
        const auto batched_rev = f.run(reversed, q_rev);
        int64_t rev_at = 0;
        for (size_t s : reversed) {
            const std::vector<float> qs(q.begin() + offset[s] * row_elems, q.begin() + offset[s + 1] * row_elems);
            const auto alone = f.run({s}, qs);
            const float* in_batch = batched.data() + offset[s] * out_row;
            EXPECT_EQ(0, std::memcmp(alone.data(), in_batch, alone.size() * sizeof(float))) << "seq " << s;
            EXPECT_EQ(0, std::memcmp(alone.data(), batched_rev.data() + rev_at, alone.size() * sizeof(float)))
                << "seq " << s << " in reversed batch";
            rev_at += int64_t(alone.size());
        }
    }
}

TEST(OpsAttention, ChunkedQueriesEqualWholePrefill) {
    for (const Config& c : kConfigs) {
        const int32_t len = 29;
        Fixture whole(c, {{len, len}}, 61);
        const int64_t row_elems = c.heads * c.head_dim, out_row = c.heads * c.dv();
        const auto q = random_floats(len * row_elems, 62, -2.0f, 2.0f);
        const auto all = whole.run({0}, q);
        // The same keys queried in chunks of 1, 5 and the rest, each chunk seeing its own context.
        for (auto [begin, end] : {std::pair{0, 1}, std::pair{1, 6}, std::pair{6, len}}) {
            Fixture part = whole;
            part.seqs[0].context = end;
            part.seqs[0].n_new = end - begin;
            const std::vector<float> qs(q.begin() + begin * row_elems, q.begin() + end * row_elems);
            const auto got = part.run({0}, qs);
            EXPECT_EQ(0, std::memcmp(got.data(), all.data() + begin * out_row, got.size() * sizeof(float)))
                << "head_dim " << c.head_dim << " chunk [" << begin << ", " << end << ")";
        }
    }
}

TEST(OpsAttention, ThreadCountDoesNotChangeBits) {
    const Config c{8, 2, 64, 16, 0};
    Fixture f(c, {{300, 40}, {200, 1}, {129, 129}}, 71);
    const auto q = random_floats(170 * c.heads * c.head_dim, 72);
    const int before = num_threads();
    set_num_threads(1);
    const auto one = f.run({0, 1, 2}, q);
    set_num_threads(2);
    const auto two = f.run({0, 1, 2}, q);
    set_num_threads(before);
    EXPECT_EQ(one, two);
}

TEST(OpsAttention, ThreadCountDoesNotChangeBitsWithSoftcapAndAlibi) {
    for (bool falcon : {false, true}) {
    const Config c{8, 8, 64, 16, 0, 32, 4.0f, true, falcon};
    Fixture f(c, {{300, 40}, {200, 1}, {129, 129}}, 73);
    const auto q = random_floats(170 * c.heads * c.head_dim, 74);
    const int before = num_threads();
    set_num_threads(1);
    const auto one = f.run({0, 1, 2}, q);
    set_num_threads(2);
    const auto two = f.run({0, 1, 2}, q);
    set_num_threads(before);
    EXPECT_EQ(one, two) << "falcon " << falcon;
    }
}

// The ALiBi paper's slopes: for n a power of two, 2^(-8k/n), k = 1..n; otherwise those of the
// closest power of two below n, then the odd-indexed slopes of the series for twice that.
TEST(OpsAttention, AlibiSlopesFollowThePaper) {
    for (int64_t n : {1, 2, 8, 12, 16, 30, 64}) {
        const auto got = alibi_slopes(n);
        ASSERT_EQ(static_cast<int64_t>(got.size()), n);
        int64_t p2 = 1;
        while (p2 * 2 <= n) p2 *= 2;
        for (int64_t k = 1; k <= p2; ++k) EXPECT_NEAR(got[k - 1], std::pow(2.0, -8.0 * k / p2), 1e-7) << n;
        for (int64_t k = 0; k < n - p2; ++k)
            EXPECT_NEAR(got[p2 + k], std::pow(2.0, -8.0 * (2 * k + 1) / (2 * p2)), 1e-7) << n << " extra " << k;
    }
    EXPECT_TRUE(alibi_slopes(0).empty());
}

TEST(OpsAttention, RejectsBadScoreOptions) {
    Fixture f({2, 1, 8, 4, 0}, {{3, 1}}, 82);
    Tensor q = Tensor::zeros(DType::kF32, {1, 2, 8}), out = Tensor::zeros(DType::kF32, {1, 2, 8});
    const std::vector<int32_t> qs = {0, 1}, ctx = {3};
    AttentionParams p;
    const std::vector<float> three = {0.5f, 0.25f, 0.125f};
    p.alibi_slopes = three;
    Status st = paged_attention(q, f.k_pool, f.v_pool, qs, ctx, {f.seqs[0].blocks}, p, out);
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("ALiBi"), std::string::npos) << st.message();
    p.alibi_slopes = {};
    p.logit_softcap = -1.0f;
    EXPECT_FALSE(paged_attention(q, f.k_pool, f.v_pool, qs, ctx, {f.seqs[0].blocks}, p, out).is_ok());
    p.logit_softcap = 0.0f;
    p.alibi_falcon_bf16 = true;  // without slopes
    EXPECT_FALSE(paged_attention(q, f.k_pool, f.v_pool, qs, ctx, {f.seqs[0].blocks}, p, out).is_ok());
    p.alibi_falcon_bf16 = false;
    Tensor wrong_out = Tensor::zeros(DType::kF32, {1, 2, 7});
    EXPECT_FALSE(paged_attention(q, f.k_pool, f.v_pool, qs, ctx, {f.seqs[0].blocks}, p, wrong_out).is_ok());
}

TEST(OpsAttention, RejectsShortBlockTable) {
    Fixture f({2, 1, 8, 4, 0}, {{9, 1}}, 81);
    f.seqs[0].blocks.pop_back();
    Tensor q = Tensor::zeros(DType::kF32, {1, 2, 8}), out = Tensor::zeros(DType::kF32, {1, 2, 8});
    const std::vector<int32_t> qs = {0, 1}, ctx = {9};
    const Status st = paged_attention(q, f.k_pool, f.v_pool, qs, ctx, {f.seqs[0].blocks}, AttentionParams{}, out);
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("block table too short"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace kite::ops
