// x @ w^T for f32, with every output element accumulated in one fixed order (8-lane FMA over k,
// a fixed horizontal sum, then the scalar tail), whatever the tile it falls in or the number of
// rows in the batch. That is what makes a request's logits bit-identical alone or batched; a BLAS
// sgemm picks different kernels (gemv for one row) and so different roundings per batch size.
#include <immintrin.h>

#include <algorithm>

#include "core/parallel.h"
#include "ops/cpu/kernels.h"

namespace kite::ops::cpu {

namespace {

#if defined(__AVX2__) && defined(__FMA__)
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(s);
    s = _mm_add_ps(s, sh);
    sh = _mm_movehl_ps(sh, s);
    return _mm_cvtss_f32(_mm_add_ss(s, sh));
}

// R rows of x times C rows of w.
template <int R, int C>
void micro(const float* x, int64_t ldx, const float* w, int64_t K, const float* bias, float* out, int64_t ldo) {
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    const int64_t K8 = K & ~int64_t(7);
    for (int64_t k = 0; k < K8; k += 8) {
        __m256 xv[R];
        for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(x + r * ldx + k);
        for (int c = 0; c < C; ++c) {
            const __m256 wv = _mm256_loadu_ps(w + c * K + k);
            for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) {
            float s = hsum(acc[r][c]);
            for (int64_t k = K8; k < K; ++k) s += x[r * ldx + k] * w[c * K + k];
            out[r * ldo + c] = bias ? s + bias[c] : s;
        }
    }
}
#else
// Portable path with the same per-element order as the AVX2 one (8 lanes, pairwise lane sum).
template <int R, int C>
void micro(const float* x, int64_t ldx, const float* w, int64_t K, const float* bias, float* out, int64_t ldo) {
    const int64_t K8 = K & ~int64_t(7);
    for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) {
            float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t k = 0; k < K8; k += 8)
                for (int l = 0; l < 8; ++l) lane[l] = std::fma(x[r * ldx + k + l], w[c * K + k + l], lane[l]);
            float a[4], b[2];
            for (int l = 0; l < 4; ++l) a[l] = lane[l] + lane[l + 4];
            b[0] = a[0] + a[1];
            b[1] = a[2] + a[3];
            float s = b[0] + b[1];
            for (int64_t k = K8; k < K; ++k) s += x[r * ldx + k] * w[c * K + k];
            out[r * ldo + c] = bias ? s + bias[c] : s;
        }
    }
}
#endif

template <int C>
void rows_block(const float* x, int64_t T, int64_t K, const float* w, const float* bias, float* out, int64_t N) {
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) micro<4, C>(x + t * K, K, w, K, bias, out + t * N, N);
    for (; t < T; ++t) micro<1, C>(x + t * K, K, w, K, bias, out + t * N, N);
}

}  // namespace

void gemm_nt_f32(const float* x, int64_t T, int64_t K, const float* w, int64_t N, const float* bias, float* out) {
    constexpr int64_t kRowTile = 64;  // rows of x kept hot in L2 while a slice of w streams by
    // Work unit: 8 output columns; enough units per thread to balance.
    const int64_t units = (N + 7) / 8;
    parallel_for(units, T >= 16 ? 1 : 4, [&](int64_t ub, int64_t ue) {
        const int64_t n_begin = ub * 8, n_end = std::min(N, ue * 8);
        for (int64_t t0 = 0; t0 < T; t0 += kRowTile) {
            const int64_t tn = std::min(kRowTile, T - t0);
            int64_t n = n_begin;
            for (; n + 2 <= n_end; n += 2)
                rows_block<2>(x + t0 * K, tn, K, w + n * K, bias ? bias + n : nullptr, out + t0 * N + n, N);
            for (; n < n_end; ++n)
                rows_block<1>(x + t0 * K, tn, K, w + n * K, bias ? bias + n : nullptr, out + t0 * N + n, N);
        }
    });
}

}  // namespace kite::ops::cpu
