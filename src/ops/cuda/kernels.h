// CUDA kernels behind ops/ops.h, the counterpart of ops/cpu/kernels.h (same names, same arguments:
// ops/dispatch.h relies on it). Inputs are validated by the dispatching op; pointers are device
// memory, spans and block tables are host arrays that the kernel uploads itself (first cut: one
// small copy per call). All work runs on the legacy default stream, so calls are ordered and a
// host copy of a result waits for them. Each returns an error (never aborts) when CUDA or cuBLAS
// fails; built without KITE_CUDA, each says so (stub.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/ops.h"

namespace kite::ops::cuda {

// out[t, n] = dot(x[t, :], w[n, :]) (+ bias[n]); x [T, K] f32, w [N, K] f32 or bf16 (bf16: x is
// rounded to bf16 and the product accumulates in f32 on the tensor cores).
Status linear(const float* x, int64_t T, int64_t K, const Tensor& w, const float* bias, float* out);
// table [V, H] f32 or bf16 on the GPU; ids on the host, already range-checked.
Status embedding(const Tensor& table, std::span<const int32_t> ids, float* out);
Status rms_norm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float weight_offset, float* out);
Status add_rms_norm(float* residual, const float* x, const float* w, int64_t rows, int64_t n, float eps,
                    float weight_offset, float* out);
Status layer_norm(const float* x, const float* w, const float* bias, int64_t rows, int64_t n, float eps, float* out);
Status add_layer_norm(float* residual, const float* x, const float* w, const float* bias, int64_t rows, int64_t n,
                      float eps, float* out);
Status activation(float* x, int64_t n, Activation act);
Status act_mul(const float* gate_up, int64_t T, int64_t n, Activation act, float* out);
Status scale(float* x, int64_t n, float s);
Status soft_cap(float* x, int64_t n, float cap);
Status add_inplace(float* x, const float* y, int64_t n);
Status rope(float* x, int64_t T, int64_t heads, int64_t head_dim, const float* cos, const float* sin, int rot_dim,
            RopeLayout layout);
Status write_kv(const float* k, const float* v, int64_t T, int64_t k_row, int64_t v_row, std::span<const int64_t> slots,
                float* k_pool, float* v_pool);
Status paged_attention(const float* q, const float* k_pool, const float* v_pool, int64_t heads, int64_t kv_heads,
                       int64_t head_dim, int64_t v_head_dim, int64_t block_size, std::span<const int32_t> query_start,
                       std::span<const int32_t> context_lens, const std::vector<std::vector<int32_t>>& block_tables,
                       const AttentionParams& p, float* out);

}  // namespace kite::ops::cuda
