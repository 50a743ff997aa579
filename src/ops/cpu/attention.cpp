// Paged causal attention on the CPU. Each (query token, head) is computed on its own: scores over
// its visible keys read through the block table (an 8-lane FMA dot product in a fixed order), a
// softmax with a vectorised exp, then the probability-weighted sum of values in key order (8 dims
// per vector lane). Soft-capping and ALiBi (ops/attention_math.h) adjust each score before the
// softmax. Nothing depends on how tokens were batched or chunked, or on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/attention_math.h"
#include "ops/cpu/avx_math.h"
#include "ops/cpu/kernels.h"

namespace kite::ops::cpu {

namespace {

// Multiply-adds below which a chunk of (token, head) items is not worth a thread hand-off.
constexpr int64_t kMinMacsPerChunk = 64 * 1024;

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(s);
    s = _mm_add_ps(s, sh);
    sh = _mm_movehl_ps(sh, s);
    return _mm_cvtss_f32(_mm_add_ss(s, sh));
}

// dot(a, b) over n floats: 8-lane accumulator, masked last step, fixed horizontal sum.
inline float dot(const float* a, const float* b, int64_t n, __m256i tail) {
    __m256 acc = _mm256_setzero_ps();
    int64_t d = 0;
    for (; d + 8 <= n; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), acc);
    if (d < n) acc = _mm256_fmadd_ps(_mm256_maskload_ps(a + d, tail), _mm256_maskload_ps(b + d, tail), acc);
    return hsum(acc);
}

// o[d .. d + 8V) = inv * sum_j p[j] * v_j[d .. d + 8V), j = 0 .. n-1 in order.
template <int V>
inline void weighted_sum(const float* p, const float* const* vrows, int64_t n, int64_t d, __m256 inv, float* o) {
    __m256 a[V];
    for (int u = 0; u < V; ++u) a[u] = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; ++j) {
        const __m256 pj = _mm256_set1_ps(p[j]);
        const float* v = vrows[j] + d;
        _Pragma("GCC unroll 8") for (int u = 0; u < V; ++u) a[u] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 8 * u), a[u]);
    }
    _Pragma("GCC unroll 8") for (int u = 0; u < V; ++u) _mm256_storeu_ps(o + d + 8 * u, _mm256_mul_ps(a[u], inv));
}

// dot(a, k[u]) for 8 rows k[u] at once, lane u. Each lane is summed exactly as dot() sums (the
// same 8-lane FMA chain, then (l0+l4 + l1+l5) + (l2+l6 + l3+l7) through an hadd tree), so a score
// has the same bits whichever path computed it; the tree just saves 7 of every 8 reductions.
inline __m256 dot8(const float* a, const float* const* k, int64_t n, __m256i tail) {
    __m256 acc[8];
    for (int u = 0; u < 8; ++u) acc[u] = _mm256_setzero_ps();
    int64_t d = 0;
    for (; d + 8 <= n; d += 8) {
        const __m256 av = _mm256_loadu_ps(a + d);
        _Pragma("GCC unroll 8") for (int u = 0; u < 8; ++u) acc[u] = _mm256_fmadd_ps(av, _mm256_loadu_ps(k[u] + d), acc[u]);
    }
    if (d < n) {
        const __m256 av = _mm256_maskload_ps(a + d, tail);
        _Pragma("GCC unroll 8") for (int u = 0; u < 8; ++u)
            acc[u] = _mm256_fmadd_ps(av, _mm256_maskload_ps(k[u] + d, tail), acc[u]);
    }
    __m256 half[4];  // [u = 2i: lo + hi | u = 2i + 1: lo + hi]
    for (int i = 0; i < 4; ++i)
        half[i] = _mm256_add_ps(_mm256_permute2f128_ps(acc[2 * i], acc[2 * i + 1], 0x20),
                                _mm256_permute2f128_ps(acc[2 * i], acc[2 * i + 1], 0x31));
    const __m256 h0 = _mm256_hadd_ps(half[0], half[1]), h1 = _mm256_hadd_ps(half[2], half[3]);
    const __m256 r = _mm256_hadd_ps(h0, h1);  // rows in lanes 0, 2, 4, 6 | 1, 3, 5, 7
    return _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

struct Geometry {
    int64_t heads, group, head_dim, v_head_dim, block_size, k_stride, v_stride;  // strides: floats per slot
};

// One (token, head): keys [first, pos] of a sequence whose block table is `table`. Every
// reduction below runs in an order fixed by (first, pos, head_dim, v_head_dim) alone.
void attend_one(const float* qv, const float* k_pool, const float* v_pool, const Geometry& g, int64_t kvh,
                const int32_t* table, int64_t first, int64_t pos, const ScoreMods& mods,
                std::vector<float>& scores, std::vector<const float*>& krows, std::vector<const float*>& vrows,
                float* o) {
    const int64_t D = g.head_dim, Dv = g.v_head_dim, n = pos - first + 1;
    const __m256i tail = lane_mask(D & 7);
    scores.resize(n + 8);
    krows.resize(n + 8);
    vrows.resize(n);
    // Row addresses of the visible keys and values, walking the block table block by block.
    for (int64_t j = first; j <= pos;) {
        const int64_t in_block = j % g.block_size;
        const int64_t stop = std::min(pos + 1, j - in_block + g.block_size);
        const int64_t base = int64_t(table[j / g.block_size]) * g.block_size - (j - in_block);
        for (; j < stop; ++j) {
            krows[j - first] = k_pool + (base + j) * g.k_stride + kvh * D;
            vrows[j - first] = v_pool + (base + j) * g.v_stride + kvh * Dv;
        }
    }
    // Scores: 8 keys at a time where possible (same bits as one key at a time, see dot8).
    const float scale = mods.qk_scale;
    const __m256 vscale = _mm256_set1_ps(scale);
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 s = _mm256_mul_ps(dot8(qv, krows.data() + j, D, tail), vscale);
        _mm256_storeu_ps(scores.data() + j, s);
        vmax = _mm256_max_ps(vmax, s);
    }
    float mx = hmax(vmax);
    for (; j < n; ++j) {
        const float s = dot(qv, krows[j], D, tail) * scale;
        scores[j] = s;
        mx = std::max(mx, s);
    }
    if (mods.falcon) {  // Falcon's ALiBi (bf16 rounding): the scalar form, then the max again
        mx = -INFINITY;
        for (int64_t j = 0; j < n; ++j) {
            scores[j] = modify_score(scores[j], mods, first + j, pos);
            mx = std::max(mx, scores[j]);
        }
    } else if (mods.any()) {  // soft-cap, then ALiBi's slope * (key - query), 8 scores at a time
        const __m256 vcap = _mm256_set1_ps(mods.softcap), vslope = _mm256_set1_ps(mods.slope);
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256 vmx = _mm256_set1_ps(-INFINITY);
        for (int64_t j = 0; j < n; j += 8) {
            __m256 s = _mm256_loadu_ps(scores.data() + j);
            if (mods.softcap > 0.0f) s = soft_cap8(s, vcap);
            if (mods.alibi) {
                const __m256i rel = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first + j - pos)), lanes);
                s = _mm256_fmadd_ps(vslope, _mm256_cvtepi32_ps(rel), s);
            }
            _mm256_storeu_ps(scores.data() + j, s);
            vmx = _mm256_max_ps(vmx, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), s,
                                                      _mm256_castsi256_ps(lane_mask(std::min<int64_t>(8, n - j)))));
        }
        mx = hmax(vmx);
    }
    // Probabilities 8 keys at a time; their sum in 8 lanes (key j in lane j % 8), then hsum.
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; j += 8) {
        const __m256i m = lane_mask(std::min<int64_t>(8, n - j));
        const __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(scores.data() + j), vmx));
        const __m256 pe = _mm256_and_ps(e, _mm256_castsi256_ps(m));
        _mm256_storeu_ps(scores.data() + j, pe);
        vsum = _mm256_add_ps(vsum, pe);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(vsum));
    // o[d] = sum_j p_j * v_j[d], one FMA chain per element in key order; 8 or 4 vectors of dims
    // at a time stay in registers (more chains in flight; an element's chain is the same either way).
    int64_t d = 0;
    for (; d + 64 <= Dv; d += 64) weighted_sum<8>(scores.data(), vrows.data(), n, d, inv, o);
    for (; d + 32 <= Dv; d += 32) weighted_sum<4>(scores.data(), vrows.data(), n, d, inv, o);
    // Narrow remainders (small heads): four accumulators by key phase j % 4 break the FMA chain.
    for (; d < Dv; d += 8) {
        const __m256i m = lane_mask(std::min<int64_t>(8, Dv - d));
        __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            for (int u = 0; u < 4; ++u)
                a[u] = _mm256_fmadd_ps(_mm256_set1_ps(scores[j + u]), _mm256_maskload_ps(vrows[j + u] + d, m), a[u]);
        }
        for (int u = 0; j < n; ++j, ++u)
            a[u] = _mm256_fmadd_ps(_mm256_set1_ps(scores[j]), _mm256_maskload_ps(vrows[j] + d, m), a[u]);
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
        _mm256_maskstore_ps(o + d, m, _mm256_mul_ps(sum, inv));
    }
}

}  // namespace

void paged_attention(const float* q, const float* k_pool, const float* v_pool, int64_t heads, int64_t kv_heads,
                     int64_t head_dim, int64_t v_head_dim, int64_t block_size, std::span<const int32_t> query_start,
                     std::span<const int32_t> context_lens, const std::vector<std::vector<int32_t>>& block_tables,
                     const AttentionParams& p, float* out) {
    const int64_t num_seqs = static_cast<int64_t>(context_lens.size());
    const int64_t T = query_start[num_seqs];
    const Geometry g{heads,      heads / kv_heads,          head_dim, v_head_dim,
                     block_size, kv_heads * head_dim, kv_heads * v_head_dim};
    // Row -> sequence lookup so work can be split over (token, head) pairs; total work for the grain.
    std::vector<int32_t> seq_of(T);
    int64_t macs = 0;
    for (int64_t s = 0; s < num_seqs; ++s) {
        for (int32_t t = query_start[s]; t < query_start[s + 1]; ++t) seq_of[t] = static_cast<int32_t>(s);
        macs += int64_t(query_start[s + 1] - query_start[s]) * context_lens[s];
    }
    macs *= heads * (head_dim + v_head_dim);
    const int64_t items = T * heads;
    const int64_t grain = std::max<int64_t>(1, items * kMinMacsPerChunk / std::max<int64_t>(1, macs));

    parallel_for(items, grain, [&](int64_t begin, int64_t end) {
        std::vector<float> scores;
        std::vector<const float*> krows, vrows;
        for (int64_t item = begin; item < end; ++item) {
            const int64_t t = item / heads, h = item % heads;
            const int32_t s = seq_of[t];
            const int32_t n_new = query_start[s + 1] - query_start[s];
            const int64_t pos = context_lens[s] - n_new + (t - query_start[s]);
            const int64_t first = p.sliding_window > 0 ? std::max<int64_t>(0, pos - p.sliding_window + 1) : 0;
            attend_one(q + item * head_dim, k_pool, v_pool, g, h / g.group, block_tables[s].data(), first, pos,
                       score_mods(p, h), scores, krows, vrows, out + item * v_head_dim);
        }
    });
}

}  // namespace kite::ops::cpu
