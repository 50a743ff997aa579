// RMSNorm as Hugging Face computes it: mean of squares in f32-or-better (here f64, 2 x 4 lanes in a
// fixed order per row), x * rsqrt(var + eps) * w; and LayerNorm (mean and variance in f64). Rows
// are independent, so batching changes nothing.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/cpu/kernels.h"

namespace kite::ops::cpu {

namespace {

constexpr int64_t kMinElemsPerChunk = 32 * 1024;  // below this a thread hand-off costs more than it saves

inline double sum_squares(const float* x, int64_t n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i)), hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
        a0 = _mm256_fmadd_pd(lo, lo, a0);
        a1 = _mm256_fmadd_pd(hi, hi, a1);
    }
    __m256d s = _mm256_add_pd(a0, a1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    double ss = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; i < n; ++i) ss = std::fma(double(x[i]), double(x[i]), ss);
    return ss;
}

// out = (offset + w) * (x * inv): the weight (plus Gemma's 1) times the normalized value, as HF
// multiplies them. offset 0 adds an exact zero, so Llama's result is unchanged by it.
inline void norm_row(const float* x, const float* w, int64_t n, float eps, float offset, float* out) {
    const float inv = 1.0f / std::sqrt(static_cast<float>(sum_squares(x, n) / static_cast<double>(n)) + eps);
    const __m256 vinv = _mm256_set1_ps(inv), voff = _mm256_set1_ps(offset);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_add_ps(_mm256_loadu_ps(w + i), voff),
                                                _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv)));
    for (; i < n; ++i) out[i] = (w[i] + offset) * (x[i] * inv);
}

// sum of x[i] and of (x[i] - mean)^2 in double, 2 x 4 lanes in a fixed order (as sum_squares).
inline double sum_f64(const float* x, int64_t n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)));
    }
    __m256d s = _mm256_add_pd(a0, a1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; i < n; ++i) sum += x[i];
    return sum;
}

inline double sum_sq_dev(const float* x, int64_t n, double mean) {
    const __m256d m = _mm256_set1_pd(mean);
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), m);
        const __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), m);
        a0 = _mm256_fmadd_pd(d0, d0, a0);
        a1 = _mm256_fmadd_pd(d1, d1, a1);
    }
    __m256d s = _mm256_add_pd(a0, a1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    double ss = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; i < n; ++i) ss = std::fma(x[i] - mean, x[i] - mean, ss);
    return ss;
}

// LayerNorm of one row: mean and biased variance in double (two passes, fixed order), then
// f32(x - mean) * inv * w + b per element, the subtraction in double so a large mean costs no bits.
inline void layer_norm_row(const float* x, const float* w, const float* b, int64_t n, float eps, float* out) {
    const double mean = sum_f64(x, n) / static_cast<double>(n);
    const float inv = 1.0f / std::sqrt(static_cast<float>(sum_sq_dev(x, n, mean) / static_cast<double>(n)) + eps);
    const __m256d vmean = _mm256_set1_pd(mean);
    const __m128 vinv = _mm_set1_ps(inv);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m128 d = _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), vmean));
        __m128 y = _mm_mul_ps(_mm_mul_ps(d, vinv), _mm_loadu_ps(w + i));
        if (b != nullptr) y = _mm_add_ps(y, _mm_loadu_ps(b + i));
        _mm_storeu_ps(out + i, y);
    }
    for (; i < n; ++i) {
        const float y = static_cast<float>(x[i] - mean) * inv * w[i];
        out[i] = b != nullptr ? y + b[i] : y;
    }
}

// residual += x, 8 lanes at a time.
inline void add_row(float* res, const float* xr, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(res + i, _mm256_add_ps(_mm256_loadu_ps(res + i), _mm256_loadu_ps(xr + i)));
    for (; i < n; ++i) res[i] += xr[i];
}

int64_t row_grain(int64_t n) { return std::max<int64_t>(1, kMinElemsPerChunk / std::max<int64_t>(1, n)); }

}  // namespace

void rms_norm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float weight_offset, float* out) {
    parallel_for(rows, row_grain(n), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) norm_row(x + r * n, w, n, eps, weight_offset, out + r * n);
    });
}

void add_rms_norm(float* residual, const float* x, const float* w, int64_t rows, int64_t n, float eps,
                  float weight_offset, float* out) {
    parallel_for(rows, row_grain(n), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            add_row(residual + r * n, x + r * n, n);
            norm_row(residual + r * n, w, n, eps, weight_offset, out + r * n);
        }
    });
}

void layer_norm(const float* x, const float* w, const float* bias, int64_t rows, int64_t n, float eps, float* out) {
    parallel_for(rows, row_grain(n), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) layer_norm_row(x + r * n, w, bias, n, eps, out + r * n);
    });
}

void add_layer_norm(float* residual, const float* x, const float* w, const float* bias, int64_t rows, int64_t n,
                    float eps, float* out) {
    parallel_for(rows, row_grain(n), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            add_row(residual + r * n, x + r * n, n);
            layer_norm_row(residual + r * n, w, bias, n, eps, out + r * n);
        }
    });
}

}  // namespace kite::ops::cpu
