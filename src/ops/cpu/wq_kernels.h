// CPU kernel for integer weight-only linears (ops/weight.h's IntWeightQuant), behind ops::linear.
#pragma once

#include <cstdint>

#include "ops/weight.h"

namespace kite::ops::cpu {

// out[t, n] = sum_k x[t, k] * W[n][k] (+ bias[n]) with W dequantized on the fly, 8 inputs at a time;
// x [T, K] f32. Each output is accumulated in one fixed order whatever T is (batch invariance).
void wq_matmul(const float* x, int64_t T, const Weight& w, const float* bias, float* out);

}  // namespace kite::ops::cpu
