// Converting request JSON (nlohmann, with object key order kept) into template values.
#pragma once

#include <nlohmann/json.hpp>

#include "template/evaluator.h"

namespace kite::tmpl {

Value value_from_json(const nlohmann::ordered_json& j);
Value value_from_json(const nlohmann::ordered_json& j, int depth);

}  // namespace kite::tmpl
