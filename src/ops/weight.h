// A linear layer's weight as the ops see it: [out_features, in_features], either
//  - dense: `t` is [out, in] row-major f32 / f16 / bf16 or GGUF block-quantized rows, or
//  - integer weight-only (`quant.bits` != 0): `t` holds unsigned q values packed per output row,
//    and W[n][k] = scale[n][g] * (q[n][k'] - zero[n][g]) where k' is k's place in the packed order
//    (`quant.perm`, GPTQ's act-order) and g = k' / group_size. Load-time INT8/INT4 quantization
//    and GPTQ / AWQ checkpoints both land here (ops/wq.h builds and unpacks it).
// `Weight{tensor}` stays the way to pass a dense weight, so call sites of ops::linear never change.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kite {

struct IntWeightQuant {
    // Storage width of q: 4 (two per byte; element i of each 32-bit word j is k' = 8j + i, at bits
    // 4i) or 8 (one byte each). 0: the weight is dense. Checkpoints of 2 or 3 bits use 4-bit storage.
    int bits = 0;
    int64_t in_features = 0;  // K (t's columns are bytes, not elements)
    int64_t group_size = 0;   // elements of k' per scale; K for one scale per output channel
    Tensor scales;            // f32 [out, groups]
    Tensor zeros;             // f32 [out, groups]: integer zero points (symmetric schemes store the midpoint)
    // Act-order (GPTQ desc_act): i32 [parts, K]; packed column k' of rows in part p multiplies
    // x[perm[p][k']]. Undefined: k' = k. Fused layers (q|k|v) keep one permutation per part.
    Tensor perm;
    std::vector<int64_t> part_end_rows;  // with perm: the first row after each part
    // Each scale * (q - zero) rounded to float16 before use, as GPTQ / AWQ kernels compute it.
    bool round_f16 = false;
};

struct Weight {
    Tensor t;
    IntWeightQuant quant;

    Weight() = default;
    Weight(Tensor dense) : t(std::move(dense)) {}  // NOLINT: implicit, so Weight{tensor} and tensors convert

    bool is_int_quantized() const { return quant.bits != 0; }
    int64_t out_features() const { return t.dim(0); }
    int64_t in_features() const { return is_int_quantized() ? quant.in_features : t.dim(1); }
    // Bytes a forward reads for this weight (packed data plus scales and zero points).
    int64_t nbytes() const {
        int64_t b = t.nbytes();
        if (quant.scales.defined()) b += quant.scales.nbytes();
        if (quant.zeros.defined()) b += quant.zeros.nbytes();
        return b;
    }
};

}  // namespace kite
