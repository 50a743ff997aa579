// kite's primitive op set. Each op validates shapes and dtypes, then dispatches on the device of
// its tensors (ops/dispatch.h) to ops/cpu/<op>.cpp or ops/cuda/<op>.cu. Every CPU kernel
// computes each output element in an order that does not depend on the batch around it, so a
// request's result is bit-identical alone or batched (the engine's batch-invariance guarantee).
// Activations are f32 [tokens, features] unless stated.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/weight.h"

namespace kite::ops {

// out[t, :] = x[t, :] @ w^T (+ bias).  x: [T, in] f32; w: [out, in]; bias: [out] f32 or null.
Status linear(const Tensor& x, const Weight& w, const Tensor* bias, Tensor& out);

// out[t, :] = table[ids[t], :] (table f32 or quantized rows, dequantized on the fly).
Status embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out);

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * (weight_offset + w).  x, out: [rows, n] (may
// alias); w: [n]. weight_offset 1 gives Gemma's RMSNorm, which scales by (1 + w).
Status rms_norm(const Tensor& x, const Tensor& w, float eps, Tensor& out, float weight_offset = 0.0f);

// residual += x; then out = rms_norm(residual). The fused pre-norm step of every decoder block.
Status add_rms_norm(Tensor& residual, const Tensor& x, const Tensor& w, float eps, Tensor& out,
                    float weight_offset = 0.0f);

// out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * w (+ bias), mean and biased variance over the
// row (torch.nn.LayerNorm). x, out: [rows, n] (may alias); w: [n]; bias: [n] or null.
Status layer_norm(const Tensor& x, const Tensor& w, const Tensor* bias, float eps, Tensor& out);

// residual += x; then out = layer_norm(residual).
Status add_layer_norm(Tensor& residual, const Tensor& x, const Tensor& w, const Tensor* bias, float eps, Tensor& out);

// Activation functions by their transformers ACT2FN names (config.json's hidden_act).
enum class Activation {
    kSilu,       // "silu", "swish": x * sigmoid(x)
    kGelu,       // "gelu", "gelu_python": exact, x/2 * (1 + erf(x / sqrt(2)))
    kGeluTanh,   // "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_accurate": the tanh approximation
    kQuickGelu,  // "quick_gelu": x * sigmoid(1.702 x)
    kRelu,       // "relu"
    kRelu2,      // "relu2": relu(x)^2
};
// The Activation for an ACT2FN name; an error listing the supported names otherwise.
Result<Activation> activation_from_name(std::string_view name);
const char* activation_name(Activation a);

// x = act(x) elementwise, in place (non-gated MLPs: GPT-NeoX, Falcon, StarCoder, Phi-2).
Status activation(Tensor& x, Activation act);

// out[t, :] = act(gate_up[t, :n]) * gate_up[t, n:]  (gate_up: [T, 2n], out: [T, n]): gated MLPs.
Status act_mul(const Tensor& gate_up, Activation act, Tensor& out);
// act_mul with silu (Llama's SwiGLU), exact gelu, and tanh-approximated gelu (Gemma's GeGLU).
Status silu_mul(const Tensor& gate_up, Tensor& out);
Status gelu_mul(const Tensor& gate_up, Tensor& out);
Status gelu_tanh_mul(const Tensor& gate_up, Tensor& out);

// x *= s elementwise (Gemma's embedding scaled by sqrt(hidden_size)).
Status scale_inplace(Tensor& x, float s);

// x = cap * tanh(x / cap) elementwise, cap > 0 (Gemma-2's final logit soft-capping).
Status soft_cap(Tensor& x, float cap);

// Which dims of a head rotate together in rotary embeddings.
enum class RopeLayout {
    kHalves,      // pairs (i, i + rot_dim/2): HF's rotate_half (Llama, GPT-NeoX, Phi, Gemma, ...)
    kInterleaved, // pairs (2i, 2i + 1): GPT-J, GLM (rotate_every_two)
};

// Rotary embedding in place over x: [T, heads, head_dim], on the first rot_dim dims of each head
// (partial rotary: the rest are untouched). Pair i rotates by angle i: with c = cos[t, i],
// s = sin[t, i], (a, b) -> (a c - b s, b c + a s). cos/sin: [T, rot_dim/2] per token.
Status rope(Tensor& x, const Tensor& cos, const Tensor& sin, int rot_dim, RopeLayout layout = RopeLayout::kHalves);

// Writes new K/V rows into the paged pools at slot_mapping[t] (block * block_size + offset).
// k: [T, kv_heads, head_dim], k_pool: [num_blocks, block_size, kv_heads, head_dim]; v and v_pool
// the same with v_head_dim (equal to head_dim except in MLA-style attention).
Status write_kv(const Tensor& k, const Tensor& v, std::span<const int64_t> slot_mapping, Tensor& k_pool,
                Tensor& v_pool);

// How a query's scores over its keys are formed, in this order (each (token, head) on its own):
//   s_j = q.k_j * scale
//   s_j = logit_softcap * tanh(s_j / logit_softcap)        when logit_softcap > 0 (Gemma-2)
//   s_j += alibi_slopes[h] * (j - p)                        when alibi_slopes is not empty
//   keys j > p, and j <= p - sliding_window when sliding_window > 0, are masked out; softmax.
// ALiBi: transformers' Bloom adds slope * j (the key's position); j - p differs from it by a
// constant per row, which softmax cancels, and keeps the bias small. transformers' Falcon instead
// rounds the slope and then slope * j to bf16 (b_j = bf16(bf16(slope) * j)), adds b_j to the
// scores before scaling, and adds b_j / sqrt(head_dim) once more through its causal mask; rounding
// makes that no constant shift. alibi_falcon_bf16 selects this form:
//   s_j = (q.k_j + b_j) * scale + b_j * scale   (scale = 1/sqrt(head_dim) for Falcon)
// with soft-capping, if any, after it.
struct AttentionParams {
    float scale = 1.0f;
    int sliding_window = 0;      // > 0: a query at position p sees keys (p - window, p]
    float logit_softcap = 0.0f;  // > 0: soft-cap the scaled scores (config attn_logit_softcapping)
    std::span<const float> alibi_slopes;  // empty, or one slope per query head (host memory)
    bool alibi_falcon_bf16 = false;       // Falcon's ALiBi form (above); needs alibi_slopes
};

// ALiBi slopes for num_heads heads as transformers' build_alibi_tensor (Bloom, Falcon)
// computes them: a geometric series from 2^(-8 / n) over the closest power of two n <= num_heads,
// then every other slope of the series for 2n to fill the remaining heads.
std::vector<float> alibi_slopes(int64_t num_heads);

// Paged causal attention. q: [T, heads, head_dim]; out: [T, heads, v_head_dim]; k_pool:
// [num_blocks, block_size, kv_heads, head_dim]; v_pool: [num_blocks, block_size, kv_heads,
// v_head_dim] (v_head_dim may differ from head_dim, as in MLA). Sequence s owns rows
// [query_start[s], query_start[s+1]) whose positions are context_lens[s] - n_new .. - 1; its keys
// live in block_tables[s]. GQA: head h reads kv head h / (heads / kv_heads).
Status paged_attention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                       std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                       const std::vector<std::vector<int32_t>>& block_tables, const AttentionParams& p,
                       Tensor& out);

// x += y elementwise (same shape).
Status add_inplace(Tensor& x, const Tensor& y);

}  // namespace kite::ops
