// AVX2 building blocks shared by the CPU kernels: lane masks for row tails and a vectorised e^x
// for non-positive arguments, with the activations built on it (sigmoid-based, erfc-based) and tanh.
// Every function computes a lane from that lane's input alone, so a value's bits do not depend on
// where in a row or chunk it sits.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace kite::ops::cpu {

inline __m256i lane_mask(int64_t n) {  // first n (<= 8) lanes on
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// e^x for x <= 0 (softmax arguments), 8 lanes: x = n ln2 + r, e^r by a degree-6 Taylor-like
// polynomial on |r| <= ln2/2, then scaled by 2^n. Within 2 ulp of expf; below -87 it gives 0.
inline __m256 exp_neg(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.0f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 split in two for exactness
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, y);
}

// x * sigmoid(y) = x / (1 + e^-y), with e = e^-|y| so nothing overflows: x / (1 + e) for y >= 0,
// x * e / (1 + e) below (no cancellation either way).
inline __m256 mul_sigmoid(__m256 x, __m256 y) {
    const __m256 abs_y = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), y);
    const __m256 e = exp_neg(_mm256_sub_ps(_mm256_setzero_ps(), abs_y));
    const __m256 r = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_blendv_ps(_mm256_mul_ps(r, e), r, _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GE_OQ));
}

// The tanh GELU: 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3).
inline __m256 gelu_tanh8(__m256 x) {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
    return mul_sigmoid(x, _mm256_add_ps(u, u));
}

// The exact GELU, x Phi(x), through erfc(w), w = |x| / sqrt(2), by the Chebyshev fit of Numerical
// Recipes' erfcc (relative error below 1.2e-7 for every w >= 0): x - x erfc(w) / 2 for x >= 0,
// x erfc(w) / 2 below, so neither side cancels.
inline __m256 gelu_erf8(__m256 x) {
    const __m256 w = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.5f), w, _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(0.17087277f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
    const __m256 arg = _mm256_fnmadd_ps(w, w, p);  // -w^2 - 1.26551223 + t * (...)
    const __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), t), exp_neg(arg));
    const __m256 lo = _mm256_mul_ps(x, half_erfc);
    return _mm256_blendv_ps(lo, _mm256_sub_ps(x, lo), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
}

// tanh(y): an odd Taylor polynomial to y^9 below |y| = 1/4 (truncation under 3e-11), above it
// (1 - e) / (1 + e) with e = e^-2|y| (no cancellation worse than a factor 2.6), sign restored.
inline __m256 tanh8(__m256 y) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 a = _mm256_andnot_ps(sign, y);
    const __m256 y2 = _mm256_mul_ps(y, y);
    __m256 p = _mm256_set1_ps(-1382.0f / 155925.0f);
    p = _mm256_fmadd_ps(p, y2, _mm256_set1_ps(62.0f / 2835.0f));
    p = _mm256_fmadd_ps(p, y2, _mm256_set1_ps(-17.0f / 315.0f));
    p = _mm256_fmadd_ps(p, y2, _mm256_set1_ps(2.0f / 15.0f));
    p = _mm256_fmadd_ps(p, y2, _mm256_set1_ps(-1.0f / 3.0f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(y, y2), p, y);
    const __m256 e = exp_neg(_mm256_mul_ps(_mm256_set1_ps(-2.0f), a));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 big = _mm256_or_ps(_mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e)), _mm256_and_ps(sign, y));
    return _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.25f), _CMP_LT_OQ));
}

// cap * tanh(x / cap) for 8 lanes (Gemma-2's soft-capping; the division as the scalar form has it).
inline __m256 soft_cap8(__m256 x, __m256 cap) { return _mm256_mul_ps(cap, tanh8(_mm256_div_ps(x, cap))); }

}  // namespace kite::ops::cpu
