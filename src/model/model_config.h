// What a decoder-only transformer of the Llama family looks like, read from config.json (or from
// GGUF metadata turned into the same JSON). Family differences are fields here, not code paths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace kite {

struct RopeScaling {
    enum class Type { kNone, kLinear, kDynamic, kLlama3, kYarn };
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
    bool attention_bias = false;   // q/k/v (and o when o_bias) have biases (Qwen2)
    bool o_bias = false;
    bool mlp_bias = false;
    bool qk_norm = false;          // RMSNorm over each head of q and k (Qwen3)
    int sliding_window = 0;        // 0: full attention; else each token sees the last `sliding_window` keys
    int max_window_layers = 0;     // Qwen2: layers [max_window_layers, num_layers) use the window
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

// Parses the common config.json fields; `source` names the file in error messages.
Result<ModelConfig> parse_model_config(const nlohmann::json& j, const std::string& source);
Result<GenerationDefaults> parse_generation_config(const nlohmann::json& j, const std::string& source);

}  // namespace kite
