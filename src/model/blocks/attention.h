// Attention block: q/k/v projection (split tensors stacked at load, or one fused tensor whose rows
// the family reorders into [q | k | v]), optional per-head q/k norms, rotary from one of the
// model's tables (full or partial, halves or interleaved pairs), paged causal attention with
// MHA/GQA/MQA, sliding window, logit soft-capping, ALiBi and a per-model softmax scale, then the
// output projection. Biases anywhere are optional.
#pragma once

#include "model/blocks/block.h"
#include "model/blocks/norm.h"

namespace kite {

struct AttentionSpec {
    int num_heads = 0, num_kv_heads = 0, head_dim = 0;
    LinearSpec qkv;            // output rows [q (num_heads*head_dim) | k (kv*head_dim) | v (kv*head_dim)]
    LinearSpec o;              // [hidden, num_heads*head_dim]
    NormSpec q_norm, k_norm;   // over each head's head_dim (Qwen3, Gemma 3, Phi-2 qk_layernorm); kNone: none
    int rope = -1;             // index into DecoderSpec::rope; -1: no rotary (ALiBi, learned positions)
    float scale = 0.0f;        // softmax scale; 0: 1/sqrt(head_dim) (Gemma: query_pre_attn_scalar^-0.5)
    int sliding_window = 0;    // > 0: a query at position p sees keys (p - window, p]
    float softcap = 0.0f;      // > 0: scores = softcap * tanh(scores / softcap) (Gemma 2)
    // ALiBi (Bloom, Falcon with alibi): scores += slope_h * (key position - query position), one
    // slope per query head (ops::alibi_slopes, adjusted by the family); empty: none.
    std::vector<float> alibi_slopes;
    // Falcon's form (ops::AttentionParams::alibi_falcon_bf16): bf16(bf16(slope) * j) added before the
    // scale and once more after it, as transformers' Falcon does; slopes as ops::alibi_slopes gives.
    bool alibi_falcon_bf16 = false;
};

// Row orders (LinearSpec::row_order) turning fused q/k/v layouts into [q | k | v]:
// per head [q_h | k_h | v_h] (GPT-NeoX, Bloom, Falcon-7B without multi-query, GPT-BigCode MHA);
std::vector<int64_t> qkv_order_per_head(int num_heads, int head_dim);
// per kv group [q_g1 .. q_gn | k_g | v_g] (Falcon's new_decoder_architecture).
std::vector<int64_t> qkv_order_per_group(int num_kv_heads, int q_per_kv, int head_dim);

class AttentionBlock final : public MixerBlock {
public:
    static Result<std::unique_ptr<MixerBlock>> load(const AttentionSpec& spec, WeightLoader& loader);
    Status forward(int layer, const Tensor& x, StepContext& ctx, Tensor& out) override;
    void tensors(TensorList& out) override;

private:
    AttentionSpec spec_;
    Linear qkv_, o_;
    Norm q_norm_, k_norm_;
};

}  // namespace kite
