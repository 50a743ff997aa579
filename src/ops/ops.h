// kite's primitive op set. Each op validates shapes and dtypes, then dispatches on the device of
// its tensors (ops/dispatch.h) to ops/cpu/<op>.cpp or, later, ops/cuda/<op>.cu. Every CPU kernel
// computes each output element in an order that does not depend on the batch around it, so a
// request's result is bit-identical alone or batched (the engine's batch-invariance guarantee).
// Activations are f32 [tokens, features] unless stated.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/weight.h"

namespace kite::ops {

// out[t, :] = x[t, :] @ w^T (+ bias).  x: [T, in] f32; w: [out, in]; bias: [out] f32 or null.
Status linear(const Tensor& x, const Weight& w, const Tensor* bias, Tensor& out);

// out[t, :] = table[ids[t], :] (table f32 or quantized rows, dequantized on the fly).
Status embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out);

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w.  x, out: [rows, n] (may alias); w: [n].
Status rms_norm(const Tensor& x, const Tensor& w, float eps, Tensor& out);

// residual += x; then out = rms_norm(residual). The fused pre-norm step of every decoder block.
Status add_rms_norm(Tensor& residual, const Tensor& x, const Tensor& w, float eps, Tensor& out);

// out[t, :] = silu(gate_up[t, :n]) * gate_up[t, n:]  (gate_up: [T, 2n], out: [T, n]).
Status silu_mul(const Tensor& gate_up, Tensor& out);

// Rotary embedding in place over x: [T, heads, head_dim], "halves" layout (HF's rotate_half):
// pairs (i, i + rot_dim/2) of the first rot_dim dims. cos/sin: [T, rot_dim/2] per token.
Status rope(Tensor& x, const Tensor& cos, const Tensor& sin, int rot_dim);

// Writes new K/V rows into the paged pools at slot_mapping[t] (block * block_size + offset).
// k, v: [T, kv_heads, head_dim]; k_pool, v_pool: [num_blocks, block_size, kv_heads, head_dim].
Status write_kv(const Tensor& k, const Tensor& v, std::span<const int64_t> slot_mapping, Tensor& k_pool,
                Tensor& v_pool);

struct AttentionParams {
    float scale = 1.0f;     // softmax(q.k * scale)
    int sliding_window = 0; // > 0: a query at position p sees keys (p - window, p]
};

// Paged causal attention. q: [T, heads, head_dim]; out: [T, heads, head_dim]. Sequence s owns
// rows [query_start[s], query_start[s+1]) whose positions are context_lens[s] - n_new .. - 1;
// its keys live in block_tables[s]. GQA: head h reads kv head h / (heads / kv_heads).
Status paged_attention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                       std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                       const std::vector<std::vector<int32_t>>& block_tables, const AttentionParams& p,
                       Tensor& out);

// x += y elementwise (same shape).
Status add_inplace(Tensor& x, const Tensor& y);

}  // namespace kite::ops
