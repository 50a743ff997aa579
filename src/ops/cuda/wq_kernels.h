// CUDA kernel for integer weight-only linears (ops/weight.h's IntWeightQuant), the counterpart of
// ops/cpu/wq_kernels.h. Every tensor of the weight (packed q, scales, zeros, perm) is on the GPU.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "ops/weight.h"

namespace kite::ops::cuda {

// out[t, n] = sum_k x[t, k] * W[n][k] (+ bias[n]); x [T, K], out [T, N] device f32.
Status wq_matmul(const float* x, int64_t T, const Weight& w, const float* bias, float* out);

}  // namespace kite::ops::cuda
