// CPU kernels of the MoE and MLA ops (ops/moe.h, ops/mla.h), beside ops/cpu/kernels.h. Inputs are
// validated by the dispatching op.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ops/mla.h"
#include "ops/moe.h"

namespace kite::ops::cpu {

// out [T, H] = routed experts of each token (ops::moe_experts).
void moe_experts(const float* x, int64_t T, const Routing& r, const ExpertWeights& w, float* out);
void add_shared_expert(float* out, const float* y, const float* gate_logits, int64_t T, int64_t H);

// MLA kernels (ops/mla.h).
void mla_write_latent(const float* kv_a, int64_t T, const MlaDims& d, const float* norm_w, float eps, const float* cos,
                      const float* sin, std::span<const int64_t> slots, float* pool);
void mla_absorb_query(const float* q, int64_t T, const MlaDims& d, const float* w_uk_t, const float* cos,
                      const float* sin, float* q_abs);
void mla_attention(const float* q_abs, const float* pool, int64_t T, const MlaDims& d, int64_t block_size,
                   std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                   const std::vector<std::vector<int32_t>>& block_tables, float scale, float* out_latent);
void mla_project_values(const float* o_lat, int64_t T, const MlaDims& d, const float* w_uv, float* out);

}  // namespace kite::ops::cpu
