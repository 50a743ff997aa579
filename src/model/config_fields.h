// Readers for config.json fields, shared by every architecture's config parsing (model/arch/*).
// Each gives one clear error naming the file and field; an absent or null field leaves `out` as is
// unless `required`. Keys may have aliases (Bloom's "n_layer" for "num_hidden_layers"): the first
// key present wins.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/model_config.h"

namespace kite::config {

using Keys = std::initializer_list<const char*>;

// The first of `keys` present (not null) in j, or null.
const nlohmann::json* find(const nlohmann::json& j, Keys keys);

Status read_int(const nlohmann::json& j, Keys keys, const std::string& src, int64_t& out, bool required,
                int64_t min = 0);
Status read_int(const nlohmann::json& j, Keys keys, const std::string& src, int& out, bool required, int64_t min = 0);
Status read_float(const nlohmann::json& j, Keys keys, const std::string& src, float& out);
// Like read_float, but an explicit null sets `out` to 0 (transformers' None: "off"), while an absent
// key keeps the family default already in `out` (Gemma's soft-caps, sliding_window).
Status read_nullable_float(const nlohmann::json& j, Keys keys, const std::string& src, float& out);
Status read_nullable_int(const nlohmann::json& j, Keys keys, const std::string& src, int& out);
Status read_bool(const nlohmann::json& j, Keys keys, const std::string& src, bool& out);
Status read_string(const nlohmann::json& j, Keys keys, const std::string& src, std::string& out);
Status read_floats(const nlohmann::json& j, Keys keys, const std::string& src, std::vector<float>& out);
// An int or a list of ints (eos_token_id).
Status read_ids(const nlohmann::json& j, Keys keys, const std::string& src, std::vector<int>& out);

// partial_rotary_factor at the top level or in rope_parameters (transformers 5), in (0, 1].
Status read_partial_rotary(const nlohmann::json& j, Keys keys, const std::string& src, float& out);
// "rope_scaling" (transformers 4) or "rope_parameters" (transformers 5) into `out`; rope_theta from
// rope_parameters too. `max_position_embeddings` fills original_max_position_embeddings when absent.
Status read_rope(const nlohmann::json& j, const std::string& src, int max_position_embeddings, float& rope_theta,
                 RopeScaling& out);
// Parses one rope_scaling / rope_parameters object (what read_rope does for the top level).
Status parse_rope_object(const nlohmann::json& r, const std::string& where, RopeScaling& s);

// transformers' layer_types ("full_attention" / "sliding_attention" per layer): true = sliding.
// Absent: `fallback` is returned unchanged. Wrong length or an unknown type is an error.
Status read_layer_types(const nlohmann::json& j, const std::string& src, int num_layers, std::vector<bool>& sliding);

}  // namespace kite::config
