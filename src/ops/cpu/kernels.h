// CPU kernels behind ops/ops.h. Inputs are already validated by the dispatching op; these are the
// plain reference implementations (vectorised where it pays) that the CUDA kernels must match.
// ops/cuda/kernels.h declares the same names with the same arguments (ops/dispatch.h relies on it).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "ops/ops.h"

namespace kite::ops::cpu {

// out[t, n] = dot(x[t, :], w[n, :]) (+ bias[n]); x [T, K] f32, w [N, K] f32 or quantized.
void linear(const float* x, int64_t T, int64_t K, const Tensor& w, const float* bias, float* out);
// out[t, n] = dot(x[t, :], w[n, :]) (+ bias[n]); x [T, K], w [N, K] f32.
void gemm_nt_f32(const float* x, int64_t T, int64_t K, const float* w, int64_t N, const float* bias, float* out);
void embedding(const Tensor& table, std::span<const int32_t> ids, float* out);
void rms_norm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float weight_offset, float* out);
void add_rms_norm(float* residual, const float* x, const float* w, int64_t rows, int64_t n, float eps,
                  float weight_offset, float* out);
void layer_norm(const float* x, const float* w, const float* bias, int64_t rows, int64_t n, float eps, float* out);
void add_layer_norm(float* residual, const float* x, const float* w, const float* bias, int64_t rows, int64_t n,
                    float eps, float* out);
void activation(float* x, int64_t n, Activation act);
void act_mul(const float* gate_up, int64_t T, int64_t n, Activation act, float* out);
void scale(float* x, int64_t n, float s);
void soft_cap(float* x, int64_t n, float cap);
void add_inplace(float* x, const float* y, int64_t n);
void rope(float* x, int64_t T, int64_t heads, int64_t head_dim, const float* cos, const float* sin, int rot_dim,
          RopeLayout layout);
void write_kv(const float* k, const float* v, int64_t T, int64_t k_row, int64_t v_row, std::span<const int64_t> slots,
              float* k_pool, float* v_pool);
void paged_attention(const float* q, const float* k_pool, const float* v_pool, int64_t heads, int64_t kv_heads,
                     int64_t head_dim, int64_t v_head_dim, int64_t block_size, std::span<const int32_t> query_start,
                     std::span<const int32_t> context_lens, const std::vector<std::vector<int32_t>>& block_tables,
                     const AttentionParams& p, float* out);

}  // namespace kite::ops::cpu
