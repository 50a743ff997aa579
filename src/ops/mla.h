// Multi-head latent attention (DeepSeek-V2/V3) over a paged cache that holds, per token, only the
// compressed latent c (kv_lora_rank values, after kv_a_layernorm) and the shared rotary key k_rope
// (qk_rope_head_dim values): one row [c | k_rope] per slot, no per-head K or V.
//
// The up-projection kv_b_proj = [W_UK; W_UV] per head is absorbed as in vLLM's and SGLang's MLA:
//   q_nope . (W_UK c)  =  (W_UK^T q_nope) . c       -> the query moves into latent space,
//   sum_j p_j (W_UV c_j)  =  W_UV (sum_j p_j c_j)    -> values are projected once after attention,
// so attention is multi-query over the latent rows, keys = [c | k_rope], values = c. kite uses the
// absorbed form for prefill too: one path keeps a token's bits independent of how it was batched or
// chunked (vLLM expands the heads for prefill, which is cheaper in FLOPs).
//
// Rotary dims use the "halves" pairing (i, i + rope/2). Checkpoints that pair interleaved dims
// (rope_interleave, DeepSeek-V2's complex rotary) are loaded with those weight rows permuted, which
// leaves every q . k unchanged (model/arch/deepseek_v3.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace kite::ops {

struct MlaDims {
    int64_t heads = 0;
    int64_t latent = 0;  // kv_lora_rank
    int64_t rope = 0;    // qk_rope_head_dim
    int64_t nope = 0;    // qk_nope_head_dim
    int64_t v = 0;       // v_head_dim
    int64_t row() const { return latent + rope; }  // values per cached token
};

// kv_a: [T, latent + rope] (kv_a_proj_with_mqa's output, c then k_rope). Writes pool row
// slot_mapping[t] = [rms_norm(c) * norm_w | rope(k_rope)]. pool: [blocks, block_size, latent + rope].
// cos/sin: [T, rope/2].
Status mla_write_latent(const Tensor& kv_a, const MlaDims& d, const Tensor& norm_w, float eps, const Tensor& cos,
                        const Tensor& sin, std::span<const int64_t> slot_mapping, Tensor& pool);

// q: [T, heads, nope + rope]; w_uk_t: [heads, latent, nope] (W_UK transposed per head).
// q_abs: [T, heads, latent + rope] = [W_UK^T q_nope | rope(q_rope)].
Status mla_absorb_query(const Tensor& q, const MlaDims& d, const Tensor& w_uk_t, const Tensor& cos, const Tensor& sin,
                        Tensor& q_abs);

// Paged causal attention of q_abs [T, heads, latent + rope] over the latent pool; out_latent
// [T, heads, latent] = softmax(scale * q_abs . row_j) . c_j. Sequences as in ops::paged_attention.
Status mla_attention(const Tensor& q_abs, const Tensor& pool, const MlaDims& d, std::span<const int32_t> query_start,
                     std::span<const int32_t> context_lens, const std::vector<std::vector<int32_t>>& block_tables,
                     float scale, Tensor& out_latent);

// out [T, heads * v] = W_UV[h] o_lat[t, h] per head; w_uv: [heads, v, latent].
Status mla_project_values(const Tensor& o_lat, const MlaDims& d, const Tensor& w_uv, Tensor& out);

}  // namespace kite::ops
