// Typed reads of request-body fields with one-line errors that name the field and what was
// expected. Absent and null fields read as nullopt. Errors are InvalidArgument whose message starts
// with "<field>: " (param_of() recovers the field for the error body's "param").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace kite::server {

using nlohmann::json;

// Parses a request body; anything but a JSON object is an error. read_json_body (json_reader.h)
// with the default depth limit.
Result<json> parse_json_object(const std::string& body);

Result<std::optional<int64_t>> get_int(const json& obj, const char* name, int64_t min, int64_t max);
Result<std::optional<double>> get_number(const json& obj, const char* name, double min, double max);
Result<std::optional<bool>> get_bool(const json& obj, const char* name);
Result<std::optional<std::string>> get_string(const json& obj, const char* name);
// A string or a list of strings (OpenAI's `stop`); at most max_items.
Result<std::vector<std::string>> get_string_list(const json& obj, const char* name, size_t max_items);
// A list of integers in [min, max].
Result<std::vector<int32_t>> get_int_list(const json& obj, const char* name, int64_t min, int64_t max,
                                          size_t max_items);

// The JSON type of a value in words ("a string", "an array", ...), for messages.
std::string type_name(const json& v);
// "field" from "field: ..." messages built above; "" when the message does not start that way.
std::string param_of(const Status& status);
// Dumps without throwing on invalid UTF-8 (replaced by U+FFFD).
std::string dump(const json& j);

}  // namespace kite::server
