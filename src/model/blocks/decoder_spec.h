// A decoder-only transformer described as data: what each architecture file (model/arch/<family>.cpp)
// builds from its config.json, and what DecoderModel (blocks/decoder.h) loads and runs.
//
//   embeddings (token table, optional scale, learned positions, embedding norm)
//   for each layer: residual layout joining norms, a mixer (attention) and a feed-forward (MLP)
//   final norm, head (tied or separate, optional bias, final logit soft-cap)
//
// Residual layouts, with x the layer input:
//   kSequential: h = x + post_attn_norm(attn(attn_norm(x)));  y = h + post_mlp_norm(mlp(mlp_norm(h)))
//                (post norms optional: absent = Llama pre-norm; present = Gemma/GLM-4 sandwich)
//   kParallel:   y = x + attn(attn_norm(x)) + mlp(mlp_norm(x)), mlp_norm absent = the MLP reads
//                attn_norm(x) too (one norm: Phi-2, Falcon-7B; two: GPT-NeoX, Falcon-40B)
// residual_from_norm (Bloom's apply_residual_connection_post_layernorm): the residual stream
// takes the normed value instead of the un-normed one, in both halves.
//
// Every tensor is named in full, as the checkpoint stores it (Hugging Face names); a GGUF file is
// read through the same names (model/gguf_source.cpp maps them with the family's table).
#pragma once

#include <string>
#include <vector>

#include "model/blocks/attention.h"
#include "model/blocks/block.h"
#include "model/blocks/mlp.h"
#include "model/blocks/norm.h"
#include "model/model_config.h"
#include "model/rotary.h"

namespace kite {

struct EmbeddingSpec {
    std::string tokens = "model.embed_tokens.weight";
    float scale = 1.0f;      // Gemma: sqrt(hidden_size)
    std::string positions;   // learned absolute positions [max_positions, hidden] (GPT-BigCode wpe); empty: none
    int64_t num_positions = 0;
    NormSpec norm;           // Bloom's word_embeddings_layernorm; kNone: none
};

struct HeadSpec {
    // The first name the checkpoint has; none and tied (ModelConfig::tie_word_embeddings): the token table.
    std::vector<std::string> weight = {"lm_head.weight"};
    std::string bias;                       // Phi-2's lm_head.bias; empty: none
    float final_softcap = 0.0f;             // > 0: logits = cap * tanh(logits / cap) (Gemma 2)
};

enum class Residual { kSequential, kParallel };

struct LayerSpec {
    Residual residual = Residual::kSequential;
    NormSpec attn_norm;       // before the mixer (always present)
    NormSpec mlp_norm;        // sequential: before the MLP (required); parallel: optional second norm
    NormSpec post_attn_norm;  // on the mixer's output before the residual add; optional
    NormSpec post_mlp_norm;   // on the MLP's output before the residual add; optional
    bool residual_from_norm = false;
    AttentionSpec attn;       // the default mixer
    MlpSpec mlp;              // the default feed-forward
    MakeMixerFn make_mixer;   // set: replaces AttentionBlock (e.g. multi-head latent attention)
    MakeFeedForwardFn make_ffn;  // set: replaces MlpBlock (e.g. a mixture of experts)
};

struct DecoderSpec {
    ModelConfig config;             // what the engine sees; num_kv_heads/head_dim size the KV cache
    EmbeddingSpec embed;
    std::vector<RopeSpec> rope;     // the rotary tables layers refer to (AttentionSpec::rope)
    std::vector<LayerSpec> layers;  // config.num_layers entries
    NormSpec final_norm;
    HeadSpec head;
    // transformers' base_model_prefix ("model.", "transformer.", "gpt_neox."): checkpoints saved
    // from the bare model lack it, so a name not found is looked up again without it.
    std::string base_prefix;
};

}  // namespace kite
