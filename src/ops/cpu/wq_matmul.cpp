// y = x W^T for integer weight-only W (INT8 per channel, INT4 per group, GPTQ / AWQ repacked):
// 8 packed values at a time become f32 weights, scale * (q - zero) (rounded to f16 when the
// checkpoint's kernels do so), and meet up to four tokens of x in FMA accumulators. Only the packed
// integers stream from memory, which is what makes decode faster than on f32 weights.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/wq_kernels.h"
#include "ops/wq.h"

namespace kite::ops::cpu {

namespace {

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// q values k .. k+7 (k a multiple of 8) of a packed row as eight i32.
template <int kBits>
inline __m256i load_q8(const uint8_t* row, int64_t k) {
    if constexpr (kBits == 4) {
        uint32_t word;
        std::memcpy(&word, row + k / 2, 4);
        const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
        return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)), shifts),
                                _mm256_set1_epi32(15));
    } else {
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k)));
    }
}

template <int kBits>
inline int load_q1(const uint8_t* row, int64_t k) {
    if constexpr (kBits == 4) return (row[k / 2] >> (4 * (k % 2))) & 15;
    else return row[k];
}

struct Args {
    const float* x;  // [T, K], already in packed order
    int64_t T, K, G, groups, row_bytes, N;
    const uint8_t* q;
    const float* scales;
    const float* zeros;
    const float* bias;
    float* out;
};

// out[t0 .. t0 + NT), row n.
template <int kBits, bool kRound, int NT>
void row_dot(const Args& a, int64_t t0, int64_t n) {
    const uint8_t* row = a.q + n * a.row_bytes;
    const float* sc = a.scales + n * a.groups;
    const float* zr = a.zeros + n * a.groups;
    __m256 acc[NT];
    float tail[NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps(), tail[t] = 0.0f;
    for (int64_t g = 0; g < a.groups; ++g) {
        const int64_t k0 = g * a.G, k1 = std::min(a.K, k0 + a.G);
        const __m256 sv = _mm256_set1_ps(sc[g]), zv = _mm256_set1_ps(zr[g]);
        int64_t k = k0;
        for (; k + 8 <= k1; k += 8) {
            __m256 wv = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(load_q8<kBits>(row, k)), zv), sv);
            if constexpr (kRound) wv = _mm256_cvtph_ps(_mm256_cvtps_ph(wv, _MM_FROUND_TO_NEAREST_INT));
#pragma GCC unroll 4
            for (int t = 0; t < NT; ++t) acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(a.x + (t0 + t) * a.K + k), acc[t]);
        }
        for (; k < k1; ++k) {  // a row whose length is not a multiple of 8 ends here
            const float wv = int_weight_value(sc[g], static_cast<float>(load_q1<kBits>(row, k)), zr[g], kRound);
#pragma GCC unroll 4
            for (int t = 0; t < NT; ++t) tail[t] += wv * a.x[(t0 + t) * a.K + k];
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
        const float s = hsum(acc[t]) + tail[t];
        a.out[(t0 + t) * a.N + n] = a.bias ? s + a.bias[n] : s;
    }
}

template <int kBits, bool kRound>
void rows(const Args& a, int64_t n_begin, int64_t n_end) {
    // Enough rows per chunk that a thread's share is worth waking it (a decode step has T = 1).
    parallel_for(n_end - n_begin, 16, [&](int64_t r0, int64_t r1) {
        // Token groups outside, rows inside: the rows of this chunk stay in cache across groups.
        for (int64_t t0 = 0; t0 < a.T; t0 += 4) {
            const int64_t nt = std::min<int64_t>(4, a.T - t0);
            for (int64_t n = n_begin + r0; n < n_begin + r1; ++n) {
                switch (nt) {
                    case 4: row_dot<kBits, kRound, 4>(a, t0, n); break;
                    case 3: row_dot<kBits, kRound, 3>(a, t0, n); break;
                    case 2: row_dot<kBits, kRound, 2>(a, t0, n); break;
                    default: row_dot<kBits, kRound, 1>(a, t0, n); break;
                }
            }
        }
    });
}

void run_rows(const Args& a, int bits, bool round_f16, int64_t n_begin, int64_t n_end) {
    if (bits == 4) round_f16 ? rows<4, true>(a, n_begin, n_end) : rows<4, false>(a, n_begin, n_end);
    else round_f16 ? rows<8, true>(a, n_begin, n_end) : rows<8, false>(a, n_begin, n_end);
}

}  // namespace

void wq_matmul(const float* x, int64_t T, const Weight& w, const float* bias, float* out) {
    const IntWeightQuant& q = w.quant;
    Args a{x, T, q.in_features, q.group_size, q.scales.dim(1), w.t.dim(1), w.out_features(),
           w.t.data<uint8_t>(), q.scales.data<float>(), q.zeros.data<float>(), bias, out};
    if (!q.perm.defined()) {
        run_rows(a, q.bits, q.round_f16, 0, a.N);
        return;
    }
    // Act-order: each part's rows read x in its own permuted order (gathered once per call).
    std::vector<float> xp(T * a.K);
    int64_t begin = 0;
    for (int64_t p = 0; p < q.perm.dim(0); ++p) {
        const int32_t* perm = q.perm.data<int32_t>() + p * a.K;
        for (int64_t t = 0; t < T; ++t)
            for (int64_t k = 0; k < a.K; ++k) xp[t * a.K + k] = x[t * a.K + perm[k]];
        a.x = xp.data();
        const int64_t end = q.part_end_rows[p];
        run_rows(a, q.bits, q.round_f16, begin, end);
        begin = end;
    }
}

}  // namespace kite::ops::cpu
