// Pointwise kernels on the GPU: activations (gated and in place), scaling, soft-capping and the
// residual add. The scalar math is ops/activation_math.h, the same code the CPU kernels run, so
// results differ from the CPU's only by the device's expf / erff / tanhf rounding.
#include "ops/activation_math.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/kernels.h"

namespace kite::ops::cuda {

namespace {

constexpr int kThreads = 256;

#define KITE_GRID_STRIDE(i, n) \
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <Activation A>
__global__ void act_mul_kernel(const float* gate_up, int64_t T, int64_t n, float* out) {
    KITE_GRID_STRIDE(i, T * n) {
        const int64_t t = i / n, c = i % n;
        out[i] = activate(A, gate_up[t * 2 * n + c]) * gate_up[t * 2 * n + n + c];
    }
}

template <Activation A>
__global__ void activation_kernel(float* x, int64_t n) {
    KITE_GRID_STRIDE(i, n) x[i] = activate(A, x[i]);
}

__global__ void scale_kernel(float* x, int64_t n, float s) {
    KITE_GRID_STRIDE(i, n) x[i] *= s;
}

__global__ void soft_cap_kernel(float* x, int64_t n, float cap) {
    KITE_GRID_STRIDE(i, n) x[i] = soft_cap_value(x[i], cap);
}

__global__ void add_kernel(float* x, const float* y, int64_t n) {
    KITE_GRID_STRIDE(i, n) x[i] += y[i];
}

template <Activation A>
void launch_act_mul(const float* gate_up, int64_t T, int64_t n, float* out) {
    act_mul_kernel<A><<<grid_for(T * n, kThreads), kThreads>>>(gate_up, T, n, out);
}

template <Activation A>
void launch_activation(float* x, int64_t n) {
    activation_kernel<A><<<grid_for(n, kThreads), kThreads>>>(x, n);
}

}  // namespace

Status act_mul(const float* gate_up, int64_t T, int64_t n, Activation act, float* out) {
    if (T * n == 0) return Status::ok();
    switch (act) {
        case Activation::kSilu: launch_act_mul<Activation::kSilu>(gate_up, T, n, out); break;
        case Activation::kGelu: launch_act_mul<Activation::kGelu>(gate_up, T, n, out); break;
        case Activation::kGeluTanh: launch_act_mul<Activation::kGeluTanh>(gate_up, T, n, out); break;
        case Activation::kQuickGelu: launch_act_mul<Activation::kQuickGelu>(gate_up, T, n, out); break;
        case Activation::kRelu: launch_act_mul<Activation::kRelu>(gate_up, T, n, out); break;
        case Activation::kRelu2: launch_act_mul<Activation::kRelu2>(gate_up, T, n, out); break;
    }
    return launch_status("act_mul");
}

Status activation(float* x, int64_t n, Activation act) {
    if (n == 0) return Status::ok();
    switch (act) {
        case Activation::kSilu: launch_activation<Activation::kSilu>(x, n); break;
        case Activation::kGelu: launch_activation<Activation::kGelu>(x, n); break;
        case Activation::kGeluTanh: launch_activation<Activation::kGeluTanh>(x, n); break;
        case Activation::kQuickGelu: launch_activation<Activation::kQuickGelu>(x, n); break;
        case Activation::kRelu: launch_activation<Activation::kRelu>(x, n); break;
        case Activation::kRelu2: launch_activation<Activation::kRelu2>(x, n); break;
    }
    return launch_status("activation");
}

Status scale(float* x, int64_t n, float s) {
    if (n == 0) return Status::ok();
    scale_kernel<<<grid_for(n, kThreads), kThreads>>>(x, n, s);
    return launch_status("scale");
}

Status soft_cap(float* x, int64_t n, float cap) {
    if (n == 0) return Status::ok();
    soft_cap_kernel<<<grid_for(n, kThreads), kThreads>>>(x, n, cap);
    return launch_status("soft_cap");
}

Status add_inplace(float* x, const float* y, int64_t n) {
    if (n == 0) return Status::ok();
    add_kernel<<<grid_for(n, kThreads), kThreads>>>(x, y, n);
    return launch_status("add");
}

}  // namespace kite::ops::cuda
