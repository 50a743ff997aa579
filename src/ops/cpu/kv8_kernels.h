// CPU kernels behind ops/kv_quant.h (the 8-bit KV cache); inputs already validated.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "ops/ops.h"

namespace kite::ops::cpu {

// One layer's 8-bit pools: codes [slots, kv_heads, head_dim], scales [slots, kv_heads].
struct Kv8Pools {
    uint8_t* k;
    uint8_t* v;
    float* k_scale;
    float* v_scale;
    int64_t block_size, kv_heads, head_dim;
};

// f32 value of every FP8 E4M3FN code.
const std::array<float, 256>& e4m3_table();

void write_kv8(bool fp8, const float* k, const float* v, int64_t T, int64_t kv_heads, int64_t head_dim,
               std::span<const int64_t> slots, Kv8Pools& kv);
void paged_attention_kv8(bool fp8, const float* q, int64_t heads, const Kv8Pools& kv,
                         std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                         const std::vector<std::vector<int32_t>>& block_tables, const AttentionParams& p, float* out);

}  // namespace kite::ops::cpu
