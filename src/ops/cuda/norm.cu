// RMSNorm and the fused residual-add + RMSNorm on the GPU: one block per row, f32 sums of squares
// reduced across the block (the CPU reference sums in double; they agree to f32 rounding).
#include "ops/cuda/common.cuh"
#include "ops/cuda/kernels.h"

namespace kite::ops::cuda {

namespace {

constexpr int kThreads = 256;

// With `residual`, first residual += x and normalize the sum. Each element is read and written
// by the same thread in both passes, so out may alias x or residual.
__global__ void rms_norm_kernel(float* residual, const float* x, const float* w, int64_t n, float eps, float* out) {
    __shared__ float red[32];
    const int64_t r = blockIdx.x;
    const float* xr = x + r * n;
    float* res = residual ? residual + r * n : nullptr;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        float v = xr[i];
        if (res) {
            v += res[i];
            res[i] = v;
        }
        ss += v * v;
    }
    ss = block_sum(ss, red);
    const float inv = rsqrtf(ss / float(n) + eps);
    const float* src = res ? res : xr;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[r * n + i] = w[i] * (src[i] * inv);
}

}  // namespace

Status rms_norm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* out) {
    if (rows == 0) return Status::ok();
    rms_norm_kernel<<<unsigned(rows), kThreads>>>(nullptr, x, w, n, eps, out);
    return launch_status("rms_norm");
}

Status add_rms_norm(float* residual, const float* x, const float* w, int64_t rows, int64_t n, float eps, float* out) {
    if (rows == 0) return Status::ok();
    rms_norm_kernel<<<unsigned(rows), kThreads>>>(residual, x, w, n, eps, out);
    return launch_status("add_rms_norm");
}

}  // namespace kite::ops::cuda
