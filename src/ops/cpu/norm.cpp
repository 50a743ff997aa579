// RMSNorm as Hugging Face computes it: mean of squares in f32-or-better, x * rsqrt(var + eps) * w.
#include <cmath>

#include "core/parallel.h"
#include "ops/cpu/kernels.h"

namespace kite::ops::cpu {

namespace {
inline void norm_row(const float* x, const float* w, int64_t n, float eps, float* out) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (x[i] * inv);
}
}  // namespace

void rms_norm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* out) {
    parallel_for(rows, 16, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) norm_row(x + r * n, w, n, eps, out + r * n);
    });
}

void add_rms_norm(float* residual, const float* x, const float* w, int64_t rows, int64_t n, float eps, float* out) {
    parallel_for(rows, 16, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            float* res = residual + r * n;
            const float* xr = x + r * n;
            for (int64_t i = 0; i < n; ++i) res[i] += xr[i];
            norm_row(res, w, n, eps, out + r * n);
        }
    });
}

}  // namespace kite::ops::cpu
