#include "model/config_fields.h"

#include <cmath>

namespace kite::config {

using nlohmann::json;

const json* find(const json& j, Keys keys) {
    if (!j.is_object()) return nullptr;
    for (const char* k : keys) {
        auto it = j.find(k);
        if (it != j.end() && !it->is_null()) return &*it;
    }
    return nullptr;
}

namespace {
std::string first_key(Keys keys, const json& j) {
    for (const char* k : keys) {
        if (j.is_object() && j.contains(k) && !j[k].is_null()) return k;
    }
    return *keys.begin();
}
}  // namespace

Status read_int(const json& j, Keys keys, const std::string& src, int64_t& out, bool required, int64_t min) {
    const json* v = find(j, keys);
    const std::string key = first_key(keys, j);
    if (v == nullptr) return required ? invalid_argument(src + ": missing required field " + key) : Status::ok();
    if (!v->is_number_integer()) return invalid_argument(src + ": " + key + " must be an integer, got " + v->dump());
    const int64_t x = v->get<int64_t>();
    if (x < min) return invalid_argument(src + ": " + key + " = " + std::to_string(x) + " must be >= " + std::to_string(min));
    out = x;
    return Status::ok();
}

Status read_int(const json& j, Keys keys, const std::string& src, int& out, bool required, int64_t min) {
    int64_t v = out;
    KITE_RETURN_IF_ERROR(read_int(j, keys, src, v, required, min));
    if (v > INT32_MAX) return invalid_argument(src + ": " + first_key(keys, j) + " = " + std::to_string(v) + " is too large");
    out = static_cast<int>(v);
    return Status::ok();
}

Status read_float(const json& j, Keys keys, const std::string& src, float& out) {
    const json* v = find(j, keys);
    if (v == nullptr) return Status::ok();
    const std::string key = first_key(keys, j);
    if (!v->is_number()) return invalid_argument(src + ": " + key + " must be a number, got " + v->dump());
    const float x = v->get<float>();
    if (!std::isfinite(x)) return invalid_argument(src + ": " + key + " must be finite");
    out = x;
    return Status::ok();
}

namespace {
bool is_explicit_null(const json& j, Keys keys) {
    if (!j.is_object()) return false;
    for (const char* k : keys) {
        auto it = j.find(k);
        if (it != j.end()) return it->is_null();
    }
    return false;
}
}  // namespace

Status read_nullable_float(const json& j, Keys keys, const std::string& src, float& out) {
    if (is_explicit_null(j, keys)) {
        out = 0.0f;
        return Status::ok();
    }
    return read_float(j, keys, src, out);
}

Status read_nullable_int(const json& j, Keys keys, const std::string& src, int& out) {
    if (is_explicit_null(j, keys)) {
        out = 0;
        return Status::ok();
    }
    return read_int(j, keys, src, out, false, 0);
}

Status read_partial_rotary(const json& j, Keys keys, const std::string& src, float& out) {
    KITE_RETURN_IF_ERROR(read_float(j, keys, src, out));
    if (auto rp = j.find("rope_parameters"); rp != j.end() && rp->is_object())
        KITE_RETURN_IF_ERROR(read_float(*rp, {"partial_rotary_factor"}, src + ": rope_parameters", out));
    if (!(out > 0.0f && out <= 1.0f))
        return invalid_argument(src + ": " + *keys.begin() + " = " + std::to_string(out) + " must be in (0, 1]");
    return Status::ok();
}

Status read_bool(const json& j, Keys keys, const std::string& src, bool& out) {
    const json* v = find(j, keys);
    if (v == nullptr) return Status::ok();
    if (!v->is_boolean()) return invalid_argument(src + ": " + first_key(keys, j) + " must be true or false, got " + v->dump());
    out = v->get<bool>();
    return Status::ok();
}

Status read_string(const json& j, Keys keys, const std::string& src, std::string& out) {
    const json* v = find(j, keys);
    if (v == nullptr) return Status::ok();
    if (!v->is_string()) return invalid_argument(src + ": " + first_key(keys, j) + " must be a string, got " + v->dump());
    out = v->get<std::string>();
    return Status::ok();
}

Status read_floats(const json& j, Keys keys, const std::string& src, std::vector<float>& out) {
    const json* v = find(j, keys);
    if (v == nullptr) return Status::ok();
    const std::string key = first_key(keys, j);
    if (!v->is_array()) return invalid_argument(src + ": " + key + " must be a list of numbers, got " + v->dump());
    out.clear();
    for (const json& x : *v) {
        if (!x.is_number() || !std::isfinite(x.get<double>()))
            return invalid_argument(src + ": " + key + " must hold finite numbers, got " + x.dump());
        out.push_back(x.get<float>());
    }
    return Status::ok();
}

Status read_ids(const json& j, Keys keys, const std::string& src, std::vector<int>& out) {
    const json* v = find(j, keys);
    if (v == nullptr) return Status::ok();
    const std::string key = first_key(keys, j);
    out.clear();
    if (v->is_number_integer()) {
        out.push_back(v->get<int>());
        return Status::ok();
    }
    if (v->is_array()) {
        for (const auto& x : *v) {
            if (!x.is_number_integer()) return invalid_argument(src + ": " + key + " must hold integers, got " + v->dump());
            out.push_back(x.get<int>());
        }
        return Status::ok();
    }
    return invalid_argument(src + ": " + key + " must be an integer or a list of integers, got " + v->dump());
}

Status parse_rope_object(const json& r, const std::string& where, RopeScaling& s) {
    if (!r.is_object()) return invalid_argument(where + " must be an object or null");
    std::string type;
    KITE_RETURN_IF_ERROR(read_string(r, {"rope_type", "type"}, where, type));
    KITE_RETURN_IF_ERROR(read_float(r, {"factor"}, where, s.factor));
    KITE_RETURN_IF_ERROR(read_int(r, {"original_max_position_embeddings"}, where, s.original_max_position_embeddings, false, 1));
    if (type == "default" || type.empty()) {
        s.type = RopeScaling::Type::kNone;
        return Status::ok();
    }
    if (s.factor <= 0) return invalid_argument(where + ".factor must be > 0");
    if (type == "linear") {
        s.type = RopeScaling::Type::kLinear;
    } else if (type == "dynamic") {
        s.type = RopeScaling::Type::kDynamic;
    } else if (type == "llama3") {
        s.type = RopeScaling::Type::kLlama3;
        KITE_RETURN_IF_ERROR(read_float(r, {"low_freq_factor"}, where, s.low_freq_factor));
        KITE_RETURN_IF_ERROR(read_float(r, {"high_freq_factor"}, where, s.high_freq_factor));
        if (s.original_max_position_embeddings <= 0)
            return invalid_argument(where + ": type llama3 needs original_max_position_embeddings");
        if (s.high_freq_factor <= s.low_freq_factor)
            return invalid_argument(where + ": high_freq_factor must exceed low_freq_factor");
    } else if (type == "yarn") {
        s.type = RopeScaling::Type::kYarn;
        KITE_RETURN_IF_ERROR(read_float(r, {"beta_fast"}, where, s.beta_fast));
        KITE_RETURN_IF_ERROR(read_float(r, {"beta_slow"}, where, s.beta_slow));
        KITE_RETURN_IF_ERROR(read_float(r, {"attention_factor"}, where, s.attention_factor));
        KITE_RETURN_IF_ERROR(read_float(r, {"mscale"}, where, s.mscale));
        KITE_RETURN_IF_ERROR(read_float(r, {"mscale_all_dim"}, where, s.mscale_all_dim));
        KITE_RETURN_IF_ERROR(read_bool(r, {"truncate"}, where, s.truncate));
    } else if (type == "longrope" || type == "su") {
        s.type = RopeScaling::Type::kLongRope;
        KITE_RETURN_IF_ERROR(read_float(r, {"attention_factor"}, where, s.attention_factor));
        KITE_RETURN_IF_ERROR(read_floats(r, {"short_factor"}, where, s.short_factor));
        KITE_RETURN_IF_ERROR(read_floats(r, {"long_factor"}, where, s.long_factor));
        // transformers: without a factor, longrope uses max_position_embeddings / original (0 marks that).
        if (find(r, {"factor"}) == nullptr) s.factor = 0.0f;
        if (s.short_factor.empty() || s.long_factor.empty())
            return invalid_argument(where + ": type longrope needs short_factor and long_factor lists");
    } else {
        return unimplemented(where + ": type '" + type +
                             "' is not supported (expected linear, dynamic, llama3, yarn or longrope)");
    }
    return Status::ok();
}

Status read_rope(const json& j, const std::string& src, int max_position_embeddings, float& rope_theta,
                 RopeScaling& out) {
    KITE_RETURN_IF_ERROR(read_float(j, {"rope_theta"}, src, rope_theta));
    auto rp = j.find("rope_parameters");  // transformers 5 puts theta and scaling together here
    const bool has_rp = rp != j.end() && rp->is_object();
    if (has_rp) KITE_RETURN_IF_ERROR(read_float(*rp, {"rope_theta"}, src + ": rope_parameters", rope_theta));
    if (const json* rs = find(j, {"rope_scaling"}); rs != nullptr) {
        KITE_RETURN_IF_ERROR(parse_rope_object(*rs, src + ": rope_scaling", out));
    } else if (has_rp) {
        KITE_RETURN_IF_ERROR(parse_rope_object(*rp, src + ": rope_parameters", out));
    }
    if (out.original_max_position_embeddings == 0) {
        // Phi-3 keeps it beside rope_scaling; otherwise the trained context is max_position_embeddings.
        KITE_RETURN_IF_ERROR(read_int(j, {"original_max_position_embeddings"}, src, out.original_max_position_embeddings, false, 1));
        if (out.original_max_position_embeddings == 0) out.original_max_position_embeddings = max_position_embeddings;
    }
    return Status::ok();
}

Status read_layer_types(const json& j, const std::string& src, int num_layers, std::vector<bool>& sliding) {
    const json* v = find(j, {"layer_types"});
    if (v == nullptr) return Status::ok();
    if (!v->is_array() || static_cast<int>(v->size()) != num_layers)
        return invalid_argument(src + ": layer_types must be a list of " + std::to_string(num_layers) +
                                " entries (one per layer), got " + v->dump());
    sliding.assign(num_layers, false);
    for (int l = 0; l < num_layers; ++l) {
        const json& t = (*v)[l];
        if (t == "sliding_attention") sliding[l] = true;
        else if (t != "full_attention")
            return invalid_argument(src + ": layer_types[" + std::to_string(l) + "] = " + t.dump() +
                                    " (expected \"full_attention\" or \"sliding_attention\")");
    }
    return Status::ok();
}

}  // namespace kite::config
