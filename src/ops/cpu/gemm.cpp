// x @ w^T for f32. Every output element (t, n) is accumulated in one fixed order whatever tile it
// falls in and however many rows the batch has: one 8-lane FMA accumulator over k in steps of 8 (the
// last, partial step with zero-masked lanes), then a fixed horizontal sum, then + bias. That is what
// makes a request's logits bit-identical alone or batched; a BLAS sgemm picks different kernels (gemv
// for one row) and so different roundings per batch size. Speed comes from register tiles of R rows
// x C columns of such accumulators (R*C FMAs per R+C loads) and from an L2-sized column block of w
// that every row tile of x reuses.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/cpu/gemm_panel.h"
#include "ops/cpu/kernels.h"

namespace kite::ops::cpu {

namespace {

// Columns per parallel work unit: a multiple of every tile width below, so units hold whole tiles.
constexpr int64_t kUnitCols = 24;
// Bytes of w kept hot in L2 while all row tiles of x pass over them.
constexpr int64_t kWBlockBytes = 256 * 1024;
// Multiply-adds below which a chunk is not worth a thread hand-off (a few microseconds of work).
constexpr int64_t kMinMacsPerChunk = 64 * 1024;

// Tiles must be fully unrolled so their accumulators live in registers; -O2 alone does not.
#define KITE_UNROLL _Pragma("GCC unroll 16")

#if defined(__AVX2__) && defined(__FMA__)
inline float hsum(__m256 v) { return hsum_f32x8(v); }

using Mask = __m256i;

inline Mask tail_mask(int64_t K) {
    const int rem = static_cast<int>(K & 7);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), lane);
}

// R rows of x (stride ldx) times C rows of w (stride K) -> out (stride ldo).
template <int R, int C>
inline void tile(const float* x, int64_t ldx, const float* w, int64_t K, Mask mask, const float* bias, float* out,
                 int64_t ldo) {
    __m256 acc[R][C];
    KITE_UNROLL for (int r = 0; r < R; ++r)
        KITE_UNROLL for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    const int64_t K8 = K & ~int64_t(7);
    for (int64_t k = 0; k < K8; k += 8) {
        __m256 wv[C];
        KITE_UNROLL for (int c = 0; c < C; ++c) wv[c] = _mm256_loadu_ps(w + c * K + k);
        KITE_UNROLL for (int r = 0; r < R; ++r) {
            const __m256 xv = _mm256_loadu_ps(x + r * ldx + k);
            KITE_UNROLL for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
        }
    }
    if (K8 < K) {
        __m256 wv[C];
        KITE_UNROLL for (int c = 0; c < C; ++c) wv[c] = _mm256_maskload_ps(w + c * K + K8, mask);
        KITE_UNROLL for (int r = 0; r < R; ++r) {
            const __m256 xv = _mm256_maskload_ps(x + r * ldx + K8, mask);
            KITE_UNROLL for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
        }
    }
    KITE_UNROLL for (int r = 0; r < R; ++r) {
        KITE_UNROLL for (int c = 0; c < C; ++c) {
            const float s = hsum(acc[r][c]);
            out[r * ldo + c] = bias ? s + bias[c] : s;
        }
    }
}
#else
using Mask = int;
inline Mask tail_mask(int64_t) { return 0; }
// Portable path with the same per-element order as the AVX2 one (8 lanes, pairwise lane sum).
template <int R, int C>
inline void tile(const float* x, int64_t ldx, const float* w, int64_t K, Mask, const float* bias, float* out,
                 int64_t ldo) {
    for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) {
            float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t k = 0; k < K; ++k) lane[k & 7] = std::fma(x[r * ldx + k], w[c * K + k], lane[k & 7]);
            float a[4];
            for (int l = 0; l < 4; ++l) a[l] = lane[l] + lane[l + 4];
            const float s = (a[0] + a[1]) + (a[2] + a[3]);
            out[r * ldo + c] = bias ? s + bias[c] : s;
        }
    }
}
#endif

// R rows of x times columns [n0, n1) of w, C columns per tile, single columns for the rest.
template <int R, int C>
void row_tile(const float* x, int64_t K, const float* w, int64_t n0, int64_t n1, Mask mask, const float* bias,
              float* out, int64_t N) {
    int64_t n = n0;
    for (; n + C <= n1; n += C) tile<R, C>(x, K, w + n * K, K, mask, bias ? bias + n : nullptr, out + n, N);
    for (; n < n1; ++n) tile<R, 1>(x, K, w + n * K, K, mask, bias ? bias + n : nullptr, out + n, N);
}

// Rows [0, T) of x times columns [n0, n1) of w. Tile widths keep R*C <= 12 accumulators
// (+ C weight vectors + 1 x vector in the 16 ymm registers).
void block(const float* x, int64_t T, int64_t K, const float* w, int64_t n0, int64_t n1, const float* bias,
           float* out, int64_t N) {
    const Mask mask = tail_mask(K);
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) row_tile<4, 3>(x + t * K, K, w, n0, n1, mask, bias, out + t * N, N);
    switch (T - t) {
        case 3: row_tile<3, 4>(x + t * K, K, w, n0, n1, mask, bias, out + t * N, N); break;
        case 2: row_tile<2, 6>(x + t * K, K, w, n0, n1, mask, bias, out + t * N, N); break;
        case 1: row_tile<1, 8>(x + t * K, K, w, n0, n1, mask, bias, out + t * N, N); break;
        default: break;
    }
}

}  // namespace

void gemm_nt_f32_panel(const float* x, int64_t T, int64_t K, const float* w, int64_t ncols, const float* bias,
                       float* out, int64_t ldo) {
    if (T > 0 && ncols > 0 && K > 0) block(x, T, K, w, 0, ncols, bias, out, ldo);
}

void gemm_nt_f32(const float* x, int64_t T, int64_t K, const float* w, int64_t N, const float* bias, float* out) {
    if (T <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int64_t t = 0; t < T; ++t)
            for (int64_t n = 0; n < N; ++n) out[t * N + n] = bias ? 0.0f + bias[n] : 0.0f;
        return;
    }
    const int64_t units = (N + kUnitCols - 1) / kUnitCols;
    const int64_t macs_per_unit = T * K * kUnitCols;
    const int64_t grain = std::max<int64_t>(1, kMinMacsPerChunk / macs_per_unit);
    const int64_t wblock = std::max<int64_t>(kUnitCols, kWBlockBytes / (K * int64_t(sizeof(float))) / kUnitCols * kUnitCols);
    parallel_for(units, grain, [&](int64_t ub, int64_t ue) {
        const int64_t n_end = std::min(N, ue * kUnitCols);
        for (int64_t n0 = ub * kUnitCols; n0 < n_end; n0 += wblock)
            block(x, T, K, w, n0, std::min(n_end, n0 + wblock), bias, out, N);
    });
}

}  // namespace kite::ops::cpu
