// Multi-head latent attention block (DeepSeek-V2/V3): low-rank query (q_a_proj, q_a_layernorm,
// q_b_proj) or a plain q_proj, compressed key/value (kv_a_proj_with_mqa -> latent + rotary key,
// kv_a_layernorm), per-head up-projection kv_b_proj absorbed into the query and the output
// (ops/mla.h), o_proj. The KV cache holds one row per token and layer: kv_lora_rank latent values
// and qk_rope_head_dim rotary-key values (ModelConfig::kv_pools_per_layer = 1).
#pragma once

#include <memory>
#include <string>

#include "model/blocks/block.h"
#include "model/blocks/norm.h"
#include "ops/mla.h"

namespace kite {

struct MlaSpec {
    std::string prefix;          // "model.layers.<l>.self_attn."
    int64_t hidden = 0;
    int64_t q_lora_rank = 0;     // 0: q_proj straight from the hidden state
    ops::MlaDims dims;           // heads, kv_lora_rank, rope dims, nope dims, v_head_dim
    bool bias = false;           // attention_bias: q_a_proj, kv_a_proj_with_mqa and o_proj have biases
    // The checkpoint pairs rotary dims (2i, 2i+1) (DeepSeek-V3's rope_interleave, DeepSeek-V2's
    // complex rotary): those weight rows are reordered at load into kite's (i, i + rope/2) pairing.
    bool interleaved_rope = true;
    float scale = 0.0f;          // softmax scale (qk_head_dim^-0.5, times mscale^2 under yarn)
    int rope = 0;                // index of the rotary table (rot_dim = qk_rope_head_dim, halves)
};

class MlaBlock final : public MixerBlock {
public:
    static Result<std::unique_ptr<MixerBlock>> load(const MlaSpec& spec, WeightLoader& loader);
    Status forward(int layer, const Tensor& x, StepContext& ctx, Tensor& out) override;
    void tensors(TensorList& out) override;

private:
    MlaSpec spec_;
    Linear q_a_, q_b_, kv_a_, o_;  // q_b_ is q_proj when q_lora_rank is 0
    Norm q_a_norm_;
    Tensor kv_a_norm_;             // kv_a_layernorm weight [kv_lora_rank]
    Tensor w_uk_t_, w_uv_;         // from kv_b_proj: [heads, latent, nope], [heads, v, latent]
};

}  // namespace kite
