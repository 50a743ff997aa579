// CUDA side of ops::moe_experts (ops/cuda/moe.cu; moe_stub.cpp without KITE_CUDA).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "ops/mla.h"
#include "ops/moe.h"

namespace kite::ops::cuda {

// Fused MoE: tokens permuted by expert, one grouped GEMM over all local experts for gate|up, SwiGLU,
// one grouped GEMM for down, then un-permuted with the routing weights (ascending expert id per
// token, as on the CPU). x, out: device [T, H] f32; weights f32 or bf16 on the device.
Status moe_experts(const float* x, int64_t T, const Routing& r, const ExpertWeights& w, float* out);
// out[t] += sigmoid(gate_logits[t]) (or 1) * y[t]; device pointers.
Status add_shared_expert(float* out, const float* y, const float* gate_logits, int64_t T, int64_t H);

// MLA (ops/mla.h; ops/cuda/mla.cu): device pointers; spans and tables on the host.
Status mla_write_latent(const float* kv_a, int64_t T, const MlaDims& d, const float* norm_w, float eps, const float* cos,
                        const float* sin, std::span<const int64_t> slots, float* pool);
Status mla_absorb_query(const float* q, int64_t T, const MlaDims& d, const float* w_uk_t, const float* cos,
                        const float* sin, float* q_abs);
Status mla_attention(const float* q_abs, const float* pool, int64_t T, const MlaDims& d, int64_t block_size,
                     std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                     const std::vector<std::vector<int32_t>>& block_tables, float scale, float* out_latent);
Status mla_project_values(const float* o_lat, int64_t T, const MlaDims& d, const float* w_uv, float* out);

}  // namespace kite::ops::cuda
