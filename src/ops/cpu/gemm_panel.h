// One column panel of gemm_nt_f32, for kernels that expand weights (GGUF blocks, 16-bit floats) into
// f32 rows a panel at a time and reuse them for every row of x. Each output element is accumulated
// in exactly the order gemm_nt_f32 uses, so the result equals gemm_nt_f32 on the expanded weight
// bit for bit.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace kite::ops::cpu {

#if defined(__AVX2__)
// The fixed horizontal sum of gemm_nt_f32's 8-lane accumulators: ((a0+a4)+(a1+a5)) + ((a2+a6)+(a3+a7)).
inline float hsum_f32x8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(s);
    s = _mm_add_ps(s, sh);
    sh = _mm_movehl_ps(sh, s);
    return _mm_cvtss_f32(_mm_add_ss(s, sh));
}
#endif

// out[t * ldo + c] = dot(x[t, :], w[c, :]) (+ bias[c]) for t < T, c < ncols; x [T, K], w [ncols, K].
// Single-threaded: the caller splits columns across threads.
void gemm_nt_f32_panel(const float* x, int64_t T, int64_t K, const float* w, int64_t ncols, const float* bias,
                       float* out, int64_t ldo);

}  // namespace kite::ops::cpu
