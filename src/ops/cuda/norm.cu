// RMSNorm, LayerNorm and their fused residual-add forms on the GPU: one block per row, f32 sums
// reduced across the block (the CPU reference sums in double; they agree to f32 rounding).
#include "ops/cuda/common.cuh"
#include "ops/cuda/kernels.h"

namespace kite::ops::cuda {

namespace {

constexpr int kThreads = 256;

// With `residual`, first residual += x and normalize the sum. Each element is read and written
// by the same thread in every pass, so out may alias x or residual.
__device__ inline const float* add_residual(float* res, const float* xr, int64_t n) {
    if (res == nullptr) return xr;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) res[i] += xr[i];
    return res;
}

__global__ void rms_norm_kernel(float* residual, const float* x, const float* w, int64_t n, float eps, float offset,
                                float* out) {
    __shared__ float red[32];
    const int64_t r = blockIdx.x;
    const float* src = add_residual(residual ? residual + r * n : nullptr, x + r * n, n);
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += src[i] * src[i];
    ss = block_sum(ss, red);
    const float inv = rsqrtf(ss / float(n) + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[r * n + i] = (w[i] + offset) * (src[i] * inv);
}

// Two passes over the row: the mean, then the biased variance around it (as torch.nn.LayerNorm).
__global__ void layer_norm_kernel(float* residual, const float* x, const float* w, const float* b, int64_t n,
                                  float eps, float* out) {
    __shared__ float red[32];
    const int64_t r = blockIdx.x;
    const float* src = add_residual(residual ? residual + r * n : nullptr, x + r * n, n);
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += src[i];
    const float mean = block_sum(s, red) / float(n);
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float d = src[i] - mean;
        ss += d * d;
    }
    const float inv = rsqrtf(block_sum(ss, red) / float(n) + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float y = (src[i] - mean) * inv * w[i];
        out[r * n + i] = b != nullptr ? y + b[i] : y;
    }
}

}  // namespace

Status rms_norm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float weight_offset, float* out) {
    if (rows == 0) return Status::ok();
    rms_norm_kernel<<<unsigned(rows), kThreads>>>(nullptr, x, w, n, eps, weight_offset, out);
    return launch_status("rms_norm");
}

Status add_rms_norm(float* residual, const float* x, const float* w, int64_t rows, int64_t n, float eps,
                    float weight_offset, float* out) {
    if (rows == 0) return Status::ok();
    rms_norm_kernel<<<unsigned(rows), kThreads>>>(residual, x, w, n, eps, weight_offset, out);
    return launch_status("add_rms_norm");
}

Status layer_norm(const float* x, const float* w, const float* bias, int64_t rows, int64_t n, float eps, float* out) {
    if (rows == 0) return Status::ok();
    layer_norm_kernel<<<unsigned(rows), kThreads>>>(nullptr, x, w, bias, n, eps, out);
    return launch_status("layer_norm");
}

Status add_layer_norm(float* residual, const float* x, const float* w, const float* bias, int64_t rows, int64_t n,
                      float eps, float* out) {
    if (rows == 0) return Status::ok();
    layer_norm_kernel<<<unsigned(rows), kThreads>>>(residual, x, w, bias, n, eps, out);
    return launch_status("add_layer_norm");
}

}  // namespace kite::ops::cuda
