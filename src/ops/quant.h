// GGUF block-quantized types on the CPU: dequantization (bit-exact with ggml) and a matmul that
// computes directly on the quantized rows, so a quantized model stays small in memory.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"

namespace kite::ops {

// dst[0, n) = dequantized src; n must be a multiple of the type's block size.
Status dequantize(DType type, const void* src, float* dst, int64_t n);

// out[t, o] = sum_i x[t, i] * W[o, i] for a quantized W [out, in]; x [num_tokens, in] f32.
// Also accepts f16 / bf16 / f32 W. Activations stay f32 (float32-accurate; see docs/gguf.md);
// in_features must be a multiple of 32 and of W's block size (checked: a violation is a bug).
void quant_matmul(const float* x, int64_t num_tokens, int64_t in_features, const Tensor& w, float* out);

}  // namespace kite::ops
