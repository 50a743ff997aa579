// The Llama layout most families start from: pre-norm RMSNorm layers named
// model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm,
// mlp.{gate,up,down}_proj}, a gated MLP, one rotary table, model.norm and lm_head. A family file
// calls llama_layout() and changes what differs (Qwen2's biases, Phi-3's fused projections, ...).
#pragma once

#include <string>

#include "model/blocks/decoder_spec.h"
#include "model/registry.h"

namespace kite {

// "model.layers.<l>."
std::string layer_prefix(int l);

// Pre-norm Llama layers from c: q/k/v/o biases per c.attention_bias, MLP biases per c.mlp_bias,
// activation c.hidden_act, rotary table 0 = RopeSpec::from_config(c), no sliding window.
DecoderSpec llama_layout(const ModelConfig& c);

// GGUF names of the Llama layout (llama.cpp's LLM_TENSOR names), shared by the families that use it.
extern const GgufArch::NamePair kLlamaGgufGlobals[3];
// Also names a mixture of experts' router and per-kind expert stacks (Mixtral stored as "llama",
// qwen3moe): "mlp.gate.weight", "mlp.experts.{gate,up,down}_proj" (model/blocks/expert_set.h).
extern const GgufArch::NamePair kLlamaGgufLayer[19];

}  // namespace kite
