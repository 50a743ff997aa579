// Request bodies: parsing, the typed field readers (engine/json_fields, used here unqualified),
// the field named by an error ("param"), and dumping without throwing. Errors are InvalidArgument
// whose message starts with "<field>: " (param_of() recovers the field for the error body's "param").
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/json_fields.h"

namespace kite::server {

using nlohmann::json;
using kite::get_bool;
using kite::get_int;
using kite::get_int_list;
using kite::get_number;
using kite::get_string;
using kite::get_string_list;
using kite::type_name;

// Parses a request body; anything but a JSON object is an error. read_json_body (json_reader.h)
// with the default depth limit.
Result<json> parse_json_object(const std::string& body);

// "field" from "field: ..." messages built above; "" when the message does not start that way.
std::string param_of(const Status& status);
// Dumps without throwing on invalid UTF-8 (replaced by U+FFFD).
std::string dump(const json& j);

}  // namespace kite::server
