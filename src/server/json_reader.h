// The one reader of request bodies for every route: a byte scan bounds the nesting depth before
// nlohmann builds anything, so no later copy, destructor or recursive walk of the value can run
// away on a hostile body (a few hundred KB of "[[[[..." would otherwise build a value 10^6 levels
// deep, and copying it recursively overflows the stack).
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace kite::server {

constexpr int kDefaultMaxJsonDepth = 64;

// Nesting depth of arrays/objects in JSON text (strings and escapes skipped), counted only up to
// `limit + 1`: returns limit + 1 as soon as the text goes deeper than `limit`. Malformed text is
// not diagnosed here (the parser does that).
int json_depth_up_to(std::string_view text, int limit);

// Parses a request body that must be a JSON object nested at most `max_depth` levels (the object
// itself is level 1). Errors are InvalidArgument ("request body: ...").
Result<nlohmann::json> read_json_body(std::string_view body, int max_depth = kDefaultMaxJsonDepth);

}  // namespace kite::server
