#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include "model/config_fields.h"

namespace kite {

using nlohmann::json;
using namespace config;

Result<ModelConfig> parse_model_config(const json& j, const std::string& src) {
    if (!j.is_object()) return invalid_argument(src + ": expected a JSON object");
    ModelConfig c;
    auto arch = j.find("architectures");
    if (arch != j.end() && arch->is_array() && !arch->empty() && (*arch)[0].is_string()) {
        c.architecture = (*arch)[0].get<std::string>();
    } else {
        return invalid_argument(src + ": missing \"architectures\" (expected e.g. [\"LlamaForCausalLM\"])");
    }
    KITE_RETURN_IF_ERROR(read_string(j, {"model_type"}, src, c.model_type));
    KITE_RETURN_IF_ERROR(read_int(j, {"vocab_size"}, src, c.vocab_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"hidden_size"}, src, c.hidden_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"intermediate_size"}, src, c.intermediate_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"num_hidden_layers"}, src, c.num_layers, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"num_attention_heads"}, src, c.num_heads, true, 1));
    c.num_kv_heads = c.num_heads;
    KITE_RETURN_IF_ERROR(read_int(j, {"num_key_value_heads"}, src, c.num_kv_heads, false, 1));
    if (c.num_heads % c.num_kv_heads != 0)
        return invalid_argument(src + ": num_key_value_heads = " + std::to_string(c.num_kv_heads) +
                                " does not divide num_attention_heads = " + std::to_string(c.num_heads));
    c.head_dim = 0;
    KITE_RETURN_IF_ERROR(read_int(j, {"head_dim"}, src, c.head_dim, false, 1));
    if (c.head_dim == 0) {
        if (c.hidden_size % c.num_heads != 0)
            return invalid_argument(src + ": hidden_size = " + std::to_string(c.hidden_size) +
                                    " is not a multiple of num_attention_heads = " + std::to_string(c.num_heads));
        c.head_dim = static_cast<int>(c.hidden_size / c.num_heads);
    }
    c.max_position_embeddings = 2048;
    KITE_RETURN_IF_ERROR(read_int(j, {"max_position_embeddings"}, src, c.max_position_embeddings, false, 1));
    KITE_RETURN_IF_ERROR(read_float(j, {"rms_norm_eps"}, src, c.rms_norm_eps));
    KITE_RETURN_IF_ERROR(read_partial_rotary(j, {"partial_rotary_factor"}, src, c.partial_rotary_factor));
    KITE_RETURN_IF_ERROR(read_bool(j, {"tie_word_embeddings"}, src, c.tie_word_embeddings));
    KITE_RETURN_IF_ERROR(read_bool(j, {"attention_bias"}, src, c.attention_bias));
    KITE_RETURN_IF_ERROR(read_bool(j, {"mlp_bias"}, src, c.mlp_bias));
    KITE_RETURN_IF_ERROR(read_string(j, {"hidden_act", "hidden_activation"}, src, c.hidden_act));
    KITE_RETURN_IF_ERROR(read_int(j, {"sliding_window"}, src, c.sliding_window, false, 0));
    KITE_RETURN_IF_ERROR(read_common_ids(j, src, c));
    KITE_RETURN_IF_ERROR(read_rope(j, src, c.max_position_embeddings, c.rope_theta, c.rope_scaling));
    return c;
}

Status read_common_ids(const json& j, const std::string& src, ModelConfig& c) {
    KITE_RETURN_IF_ERROR(read_int(j, {"bos_token_id"}, src, c.bos_token_id, false, -1));
    KITE_RETURN_IF_ERROR(read_int(j, {"pad_token_id"}, src, c.pad_token_id, false, -1));
    KITE_RETURN_IF_ERROR(read_ids(j, {"eos_token_id"}, src, c.eos_token_ids));
    KITE_RETURN_IF_ERROR(read_string(j, {"dtype", "torch_dtype"}, src, c.torch_dtype));
    return Status::ok();
}

Result<GenerationDefaults> parse_generation_config(const json& j, const std::string& src) {
    GenerationDefaults g;
    if (j.is_null()) return g;
    if (!j.is_object()) return invalid_argument(src + ": expected a JSON object");
    KITE_RETURN_IF_ERROR(read_float(j, {"temperature"}, src, g.temperature));
    KITE_RETURN_IF_ERROR(read_int(j, {"top_k"}, src, g.top_k, false, 0));
    KITE_RETURN_IF_ERROR(read_float(j, {"top_p"}, src, g.top_p));
    KITE_RETURN_IF_ERROR(read_float(j, {"min_p"}, src, g.min_p));
    KITE_RETURN_IF_ERROR(read_float(j, {"repetition_penalty"}, src, g.repetition_penalty));
    KITE_RETURN_IF_ERROR(read_int(j, {"max_new_tokens"}, src, g.max_new_tokens, false, 0));
    KITE_RETURN_IF_ERROR(read_bool(j, {"do_sample"}, src, g.do_sample));
    KITE_RETURN_IF_ERROR(read_ids(j, {"eos_token_id"}, src, g.eos_token_ids));
    KITE_RETURN_IF_ERROR(read_int(j, {"bos_token_id"}, src, g.bos_token_id, false, -1));
    return g;
}

}  // namespace kite
