// Typed reads of JSON request fields with one-line errors that name the field and what was
// expected: absent and null fields read as nullopt; errors are InvalidArgument whose message starts
// with "<field>: ". Shared by every front end that turns JSON into a GenerationRequest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace kite {

Result<std::optional<int64_t>> get_int(const nlohmann::json& obj, const char* name, int64_t min, int64_t max);
Result<std::optional<double>> get_number(const nlohmann::json& obj, const char* name, double min, double max);
Result<std::optional<bool>> get_bool(const nlohmann::json& obj, const char* name);
Result<std::optional<std::string>> get_string(const nlohmann::json& obj, const char* name);
// A string or a list of strings (OpenAI's `stop`); at most max_items, none empty.
Result<std::vector<std::string>> get_string_list(const nlohmann::json& obj, const char* name, size_t max_items);
// A list of integers in [min, max].
Result<std::vector<int32_t>> get_int_list(const nlohmann::json& obj, const char* name, int64_t min, int64_t max,
                                          size_t max_items);

// The JSON type of a value in words ("a string", "an array", ...), for messages.
std::string type_name(const nlohmann::json& v);

}  // namespace kite
