// The KV cache in 8 bits (--kv-cache-dtype int8|fp8): each token's K and V row of each KV head is
// stored as 8-bit codes with one f32 scale, chosen from that row's largest magnitude when the row is
// written (int8: symmetric, amax / 127; fp8: OCP E4M3FN, amax / 448). Attention reads the codes and
// dequantizes on the fly. A pool of codes is [num_blocks, block_size, kv_heads, head_dim] (I8 for
// int8, U8 for fp8 bytes); its scales are f32 [num_blocks, block_size, kv_heads].
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/ops.h"

namespace kite::ops {

enum class KvCacheDtype : uint8_t { kAuto, kInt8, kFp8 };  // kAuto: f32 (the exact reference path)

// OCP FP8 E4M3FN: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities; largest 448.
// Rounds to nearest even and saturates at +-448.
uint8_t f32_to_e4m3(float x);
float e4m3_to_f32(uint8_t code);

// Quantizes k, v [T, kv_heads, head_dim] f32 into the 8-bit pools at slot_mapping[t].
Status write_kv_quant(KvCacheDtype dtype, const Tensor& k, const Tensor& v, std::span<const int64_t> slot_mapping,
                      Tensor& k_pool, Tensor& v_pool, Tensor& k_scale, Tensor& v_scale);

// ops::paged_attention over 8-bit pools (same batch metadata and semantics).
Status paged_attention_quant(KvCacheDtype dtype, const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                             const Tensor& k_scale, const Tensor& v_scale, std::span<const int32_t> query_start,
                             std::span<const int32_t> context_lens,
                             const std::vector<std::vector<int32_t>>& block_tables, const AttentionParams& p,
                             Tensor& out);

}  // namespace kite::ops
