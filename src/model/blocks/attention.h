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
    bool alibi = false;        // scores += slope_h * key position (Bloom, Falcon with alibi)
    float alibi_scale = 1.0f;  // multiplies every slope (Falcon adds ALiBi before scaling by 1/sqrt(d))
};

class AttentionBlock final : public MixerBlock {
public:
    static Result<std::unique_ptr<MixerBlock>> load(const AttentionSpec& spec, WeightLoader& loader);
    Status forward(int layer, const Tensor& x, StepContext& ctx, Tensor& out) override;
    void tensors(TensorList& out) override;

private:
    AttentionSpec spec_;
    Linear qkv_, o_;
    Norm q_norm_, k_norm_;
    std::vector<float> alibi_slopes_;  // [num_heads], alibi_scale applied
};

// ALiBi slopes of Press et al. as Bloom's build_alibi_tensor computes them (also Falcon's, MPT's).
std::vector<float> alibi_slopes(int num_heads);

}  // namespace kite
