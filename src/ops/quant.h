// GGUF block-quantized and 16-bit weights on the CPU: dequantization (bit-exact with ggml) and a
// matmul that computes directly on the stored rows, so a model stays its file's size in memory.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"

namespace kite::ops {

// dst[0, n) = dequantized src; n must be a multiple of the type's block size.
Status dequantize(DType type, const void* src, float* dst, int64_t n);

// out[t, o] = sum_i x[t, i] * W[o, i] (+ bias[o]) for W [out, in] stored as a GGUF type, f16, bf16
// or f32; x [num_tokens, in] f32. Bit-identical to dequantizing W to f32 and running the f32 GEMM
// (cpu::gemm_nt_f32), for any num_tokens. For GGUF types in_features must be a multiple of 32 and
// of the block size (checked: a violation is a bug).
// With int8 activations switched on (below), supported GGUF types take int8_matmul instead.
void quant_matmul(const float* x, int64_t num_tokens, int64_t in_features, const Tensor& w, float* out,
                  const float* bias = nullptr);

// Opt-in approximate mode (`--cpu-int8-activations`, process-wide): each row of x is quantized to
// int8 per block of 32 (scale max|x|/127, round to nearest) and blocks are multiplied with integer
// dot products (AVX-512 VNNI, AVX-VNNI or AVX2, chosen at run time). Faster; not bit-exact. Off by
// default: the f32-activation path above is the reference.
void set_int8_activations(bool on);
bool use_int8_activations();
// Weight types int8_matmul computes on (the legacy 32-blocks Q4_0, Q4_1, Q5_0, Q5_1, Q8_0); other
// types keep the f32-activation path even in int8 mode.
bool int8_matmul_supports(DType t);
// The integer dot-product instructions int8_matmul picked on this CPU ("avx512vnni", "avxvnni", "avx2").
const char* int8_matmul_isa();
void int8_matmul(const float* x, int64_t num_tokens, int64_t in_features, const Tensor& w, float* out,
                 const float* bias = nullptr);

}  // namespace kite::ops
