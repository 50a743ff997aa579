#include "model/model_config.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace kite {

namespace {

using nlohmann::json;

// Field readers: each gives one clear error naming the file and field.
Status read_int(const json& j, const char* key, const std::string& src, int64_t& out, bool required, int64_t min = 0) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        return required ? invalid_argument(src + ": missing required field " + key) : Status::ok();
    }
    if (!it->is_number_integer()) return invalid_argument(src + ": " + key + " must be an integer, got " + it->dump());
    out = it->get<int64_t>();
    if (out < min) return invalid_argument(src + ": " + key + " = " + std::to_string(out) + " must be >= " + std::to_string(min));
    return Status::ok();
}

template <typename T>
Status read_int_as(const json& j, const char* key, const std::string& src, T& out, bool required, int64_t min = 0) {
    int64_t v = out;
    KITE_RETURN_IF_ERROR(read_int(j, key, src, v, required, min));
    out = static_cast<T>(v);
    return Status::ok();
}

Status read_float(const json& j, const char* key, const std::string& src, float& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::ok();
    if (!it->is_number()) return invalid_argument(src + ": " + key + " must be a number, got " + it->dump());
    out = it->get<float>();
    if (!std::isfinite(out)) return invalid_argument(src + ": " + key + " must be finite");
    return Status::ok();
}

Status read_bool(const json& j, const char* key, const std::string& src, bool& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::ok();
    if (!it->is_boolean()) return invalid_argument(src + ": " + key + " must be true or false, got " + it->dump());
    out = it->get<bool>();
    return Status::ok();
}

// eos_token_id may be an int or a list of ints.
Status read_ids(const json& j, const char* key, const std::string& src, std::vector<int>& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::ok();
    out.clear();
    if (it->is_number_integer()) {
        out.push_back(it->get<int>());
        return Status::ok();
    }
    if (it->is_array()) {
        for (const auto& v : *it) {
            if (!v.is_number_integer()) return invalid_argument(src + ": " + key + " must hold integers, got " + it->dump());
            out.push_back(v.get<int>());
        }
        return Status::ok();
    }
    return invalid_argument(src + ": " + key + " must be an integer or a list of integers, got " + it->dump());
}

Status parse_rope_scaling(const json& j, const std::string& src, ModelConfig& c) {
    auto it = j.find("rope_scaling");
    if (it == j.end() || it->is_null()) return Status::ok();
    if (!it->is_object()) return invalid_argument(src + ": rope_scaling must be an object or null");
    const json& r = *it;
    std::string type;
    for (const char* key : {"rope_type", "type"}) {
        auto t = r.find(key);
        if (t != r.end() && t->is_string()) {
            type = t->get<std::string>();
            break;
        }
    }
    const std::string where = src + ": rope_scaling";
    RopeScaling& s = c.rope_scaling;
    KITE_RETURN_IF_ERROR(read_float(r, "factor", where, s.factor));
    if (type == "default" || type.empty()) {
        s.type = RopeScaling::Type::kNone;
        return Status::ok();
    }
    if (s.factor <= 0) return invalid_argument(where + ".factor must be > 0");
    KITE_RETURN_IF_ERROR(read_int_as(r, "original_max_position_embeddings", where, s.original_max_position_embeddings, false, 1));
    if (type == "linear") {
        s.type = RopeScaling::Type::kLinear;
    } else if (type == "dynamic") {
        s.type = RopeScaling::Type::kDynamic;
    } else if (type == "llama3") {
        s.type = RopeScaling::Type::kLlama3;
        KITE_RETURN_IF_ERROR(read_float(r, "low_freq_factor", where, s.low_freq_factor));
        KITE_RETURN_IF_ERROR(read_float(r, "high_freq_factor", where, s.high_freq_factor));
        if (s.original_max_position_embeddings <= 0)
            return invalid_argument(where + ": type llama3 needs original_max_position_embeddings");
        if (s.high_freq_factor <= s.low_freq_factor)
            return invalid_argument(where + ": high_freq_factor must exceed low_freq_factor");
    } else if (type == "yarn") {
        s.type = RopeScaling::Type::kYarn;
        KITE_RETURN_IF_ERROR(read_float(r, "beta_fast", where, s.beta_fast));
        KITE_RETURN_IF_ERROR(read_float(r, "beta_slow", where, s.beta_slow));
        KITE_RETURN_IF_ERROR(read_float(r, "attention_factor", where, s.attention_factor));
        KITE_RETURN_IF_ERROR(read_float(r, "mscale", where, s.mscale));
        KITE_RETURN_IF_ERROR(read_float(r, "mscale_all_dim", where, s.mscale_all_dim));
        KITE_RETURN_IF_ERROR(read_bool(r, "truncate", where, s.truncate));
    } else {
        return unimplemented(where + ": type '" + type + "' is not supported (expected linear, dynamic, llama3 or yarn)");
    }
    return Status::ok();
}

}  // namespace

Result<ModelConfig> parse_model_config(const json& j, const std::string& src) {
    if (!j.is_object()) return invalid_argument(src + ": expected a JSON object");
    ModelConfig c;
    auto arch = j.find("architectures");
    if (arch != j.end() && arch->is_array() && !arch->empty() && (*arch)[0].is_string()) {
        c.architecture = (*arch)[0].get<std::string>();
    } else {
        return invalid_argument(src + ": missing \"architectures\" (expected e.g. [\"LlamaForCausalLM\"])");
    }
    if (auto mt = j.find("model_type"); mt != j.end() && mt->is_string()) c.model_type = mt->get<std::string>();
    KITE_RETURN_IF_ERROR(read_int(j, "vocab_size", src, c.vocab_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, "hidden_size", src, c.hidden_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, "intermediate_size", src, c.intermediate_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int_as(j, "num_hidden_layers", src, c.num_layers, true, 1));
    KITE_RETURN_IF_ERROR(read_int_as(j, "num_attention_heads", src, c.num_heads, true, 1));
    c.num_kv_heads = c.num_heads;
    KITE_RETURN_IF_ERROR(read_int_as(j, "num_key_value_heads", src, c.num_kv_heads, false, 1));
    if (c.num_heads % c.num_kv_heads != 0)
        return invalid_argument(src + ": num_key_value_heads = " + std::to_string(c.num_kv_heads) +
                                " does not divide num_attention_heads = " + std::to_string(c.num_heads));
    c.head_dim = 0;
    KITE_RETURN_IF_ERROR(read_int_as(j, "head_dim", src, c.head_dim, false, 1));
    if (c.head_dim == 0) {
        if (c.hidden_size % c.num_heads != 0)
            return invalid_argument(src + ": hidden_size = " + std::to_string(c.hidden_size) +
                                    " is not a multiple of num_attention_heads = " + std::to_string(c.num_heads));
        c.head_dim = static_cast<int>(c.hidden_size / c.num_heads);
    }
    c.max_position_embeddings = 2048;
    KITE_RETURN_IF_ERROR(read_int_as(j, "max_position_embeddings", src, c.max_position_embeddings, false, 1));
    KITE_RETURN_IF_ERROR(read_float(j, "rms_norm_eps", src, c.rms_norm_eps));
    KITE_RETURN_IF_ERROR(read_float(j, "rope_theta", src, c.rope_theta));
    if (auto rp = j.find("rope_parameters"); rp != j.end() && rp->is_object()) {  // transformers 5 layout
        KITE_RETURN_IF_ERROR(read_float(*rp, "rope_theta", src + ": rope_parameters", c.rope_theta));
    }
    KITE_RETURN_IF_ERROR(read_float(j, "partial_rotary_factor", src, c.partial_rotary_factor));
    KITE_RETURN_IF_ERROR(read_bool(j, "tie_word_embeddings", src, c.tie_word_embeddings));
    KITE_RETURN_IF_ERROR(read_bool(j, "attention_bias", src, c.attention_bias));
    c.o_bias = c.attention_bias;
    KITE_RETURN_IF_ERROR(read_bool(j, "mlp_bias", src, c.mlp_bias));
    if (auto act = j.find("hidden_act"); act != j.end() && act->is_string()) c.hidden_act = act->get<std::string>();
    if (auto sw = j.find("sliding_window"); sw != j.end() && !sw->is_null()) {
        KITE_RETURN_IF_ERROR(read_int_as(j, "sliding_window", src, c.sliding_window, false, 0));
    }
    // Qwen2/3 declare a window but use it only with use_sliding_window, from max_window_layers on.
    if (auto usw = j.find("use_sliding_window"); usw != j.end() && usw->is_boolean()) {
        if (!usw->get<bool>()) {
            c.sliding_window = 0;
        } else {
            KITE_RETURN_IF_ERROR(read_int_as(j, "max_window_layers", src, c.max_window_layers, false, 0));
        }
    }
    KITE_RETURN_IF_ERROR(read_int_as(j, "bos_token_id", src, c.bos_token_id, false, -1));
    KITE_RETURN_IF_ERROR(read_int_as(j, "pad_token_id", src, c.pad_token_id, false, -1));
    KITE_RETURN_IF_ERROR(read_ids(j, "eos_token_id", src, c.eos_token_ids));
    if (auto td = j.find("torch_dtype"); td != j.end() && td->is_string()) c.torch_dtype = td->get<std::string>();
    if (auto td = j.find("dtype"); td != j.end() && td->is_string()) c.torch_dtype = td->get<std::string>();
    // rope_scaling may also sit inside transformers 5's rope_parameters.
    if (auto rp = j.find("rope_parameters"); rp != j.end() && rp->is_object() && !j.contains("rope_scaling")) {
        json wrapped = {{"rope_scaling", *rp}};
        KITE_RETURN_IF_ERROR(parse_rope_scaling(wrapped, src, c));
    } else {
        KITE_RETURN_IF_ERROR(parse_rope_scaling(j, src, c));
    }
    if (c.rope_scaling.original_max_position_embeddings == 0)
        c.rope_scaling.original_max_position_embeddings = c.max_position_embeddings;
    return c;
}

Result<GenerationDefaults> parse_generation_config(const json& j, const std::string& src) {
    GenerationDefaults g;
    if (j.is_null()) return g;
    if (!j.is_object()) return invalid_argument(src + ": expected a JSON object");
    KITE_RETURN_IF_ERROR(read_float(j, "temperature", src, g.temperature));
    KITE_RETURN_IF_ERROR(read_int_as(j, "top_k", src, g.top_k, false, 0));
    KITE_RETURN_IF_ERROR(read_float(j, "top_p", src, g.top_p));
    KITE_RETURN_IF_ERROR(read_float(j, "min_p", src, g.min_p));
    KITE_RETURN_IF_ERROR(read_float(j, "repetition_penalty", src, g.repetition_penalty));
    KITE_RETURN_IF_ERROR(read_int_as(j, "max_new_tokens", src, g.max_new_tokens, false, 0));
    KITE_RETURN_IF_ERROR(read_bool(j, "do_sample", src, g.do_sample));
    KITE_RETURN_IF_ERROR(read_ids(j, "eos_token_id", src, g.eos_token_ids));
    KITE_RETURN_IF_ERROR(read_int_as(j, "bos_token_id", src, g.bos_token_id, false, -1));
    return g;
}

}  // namespace kite
