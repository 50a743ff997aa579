// The facts about a model every layer above the model needs (vocabulary, context length, special
// ids, KV-cache shape), plus the Llama-style hyper-parameters most families share. Each
// architecture's own file (model/arch/<family>.cpp) parses its config.json into this and into the
// block description the decoder runs (model/blocks/decoder_spec.h); parse_model_config reads the
// common Llama-style fields and is the starting point of the Llama-like families.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace kite {

struct RopeScaling {
    enum class Type { kNone, kLinear, kDynamic, kLlama3, kYarn, kLongRope };
    Type type = Type::kNone;
    float factor = 1.0f;
    // llama3
    float low_freq_factor = 1.0f;
    float high_freq_factor = 4.0f;
    int original_max_position_embeddings = 0;
    // yarn
    float beta_fast = 32.0f;
    float beta_slow = 1.0f;
    float attention_factor = 0.0f;  // 0: derived from factor (0.1 * ln(factor) + 1)
    float mscale = 0.0f;
    float mscale_all_dim = 0.0f;
    bool truncate = true;
    // longrope (Phi-3): per-frequency divisors below / above original_max_position_embeddings.
    std::vector<float> short_factor, long_factor;
};

struct ModelConfig {
    std::string architecture;  // Hugging Face name, e.g. "LlamaForCausalLM"
    std::string model_type;    // config.json "model_type", e.g. "llama"
    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t intermediate_size = 0;
    int num_layers = 0;
    int num_heads = 0;
    int num_kv_heads = 0;
    int head_dim = 0;
    int max_position_embeddings = 0;
    float rms_norm_eps = 1e-6f;
    float rope_theta = 10000.0f;
    float partial_rotary_factor = 1.0f;
    RopeScaling rope_scaling;
    bool tie_word_embeddings = false;
    bool attention_bias = false;   // config.json attention_bias: q/k/v and o projections have biases
    bool mlp_bias = false;
    int sliding_window = 0;        // config.json sliding_window (null: 0); which layers use it is the family's
    std::string hidden_act = "silu";
    int bos_token_id = -1;
    std::vector<int> eos_token_ids;
    int pad_token_id = -1;
    std::string torch_dtype;       // as declared by the checkpoint
    // KV pools per layer (KvCacheShape::pools_per_layer): 2 = K and V; 1 = one latent row per token
    // (multi-head latent attention sets num_kv_heads 1, head_dim kv_lora_rank + qk_rope_head_dim).
    int kv_pools_per_layer = 2;
};

// Defaults a checkpoint's generation_config.json suggests; fields absent there stay unset (<0 / empty).
struct GenerationDefaults {
    float temperature = -1.0f;
    int top_k = -1;
    float top_p = -1.0f;
    float min_p = -1.0f;
    float repetition_penalty = -1.0f;
    int max_new_tokens = -1;
    bool do_sample = true;
    std::vector<int> eos_token_ids;
    int bos_token_id = -1;
};

// Parses the common Llama-style config.json fields; `source` names the file in error messages.
Result<ModelConfig> parse_model_config(const nlohmann::json& j, const std::string& source);
// bos/pad/eos token ids and the declared dtype, under their usual names (every family has them).
Status read_common_ids(const nlohmann::json& j, const std::string& source, ModelConfig& c);
Result<GenerationDefaults> parse_generation_config(const nlohmann::json& j, const std::string& source);

}  // namespace kite
