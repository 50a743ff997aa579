// Integer weight-only quantization (ops/weight.h's IntWeightQuant): building packed weights from
// q values, load-time round-to-nearest quantization of dense weights, stacking fused layers, and
// the dequantized f32 weight every kernel is tested against.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/weight.h"

namespace kite::ops {

// Load-time quantization, round to nearest (rtp-llm's INT8/INT4 weight-only, vLLM's RTN):
// per output channel when group_size <= 0 or >= K, else per group of group_size inputs (a multiple
// of 8). Symmetric: scale = max|w| / (2^(bits-1) - 1), zero = 2^(bits-1). With zero_point: the
// range [min(w, 0), max(w, 0)] maps onto [0, 2^bits - 1] (GPTQ's quantizer).
struct IntQuantScheme {
    int bits = 8;  // 4 or 8
    int64_t group_size = 0;
    bool zero_point = false;
};
Result<Weight> quantize_weight(const Tensor& w_f32, const IntQuantScheme& scheme, const std::string& what);

// Packs q (values < 2^bits, one per byte, [N, K] in packed order k') with f32 scales and zeros
// [N, ceil(K / group_size)]. bits 1..8 (stored in 4 or 8 bits). perm: i32 [K] or undefined.
Result<Weight> make_int_weight(int bits, int64_t N, int64_t K, int64_t group_size, std::span<const uint8_t> q,
                               Tensor scales, Tensor zeros, bool round_f16, Tensor perm, const std::string& what);

// Rows of several integer weights stacked into one (fused q|k|v, gate|up). Every part must share
// K, storage bits, group size and rounding; act-order permutations stay per part.
Result<Weight> stack_int_weights(const std::vector<Weight>& parts, const std::string& what);

// Output rows reordered: row i of the result is row order[i] of w (fused per-head layouts). A
// weight whose act-order parts would no longer be contiguous comes back dequantized to f32.
Weight permute_int_weight_rows(const Weight& w, const std::vector<int64_t>& order);

// The f32 [N, K] weight a packed weight stands for, in the original input order.
Tensor dequantize_weight(const Weight& w);

// scale * (q - zero) as the kernels compute it (f32 product, optionally rounded to f16).
float int_weight_value(float scale, float q, float zero, bool round_f16);

}  // namespace kite::ops
