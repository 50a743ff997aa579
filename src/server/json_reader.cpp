// Depth-bounded JSON body reading (see json_reader.h).
#include "server/json_reader.h"

#include <string>

namespace kite::server {

int json_depth_up_to(std::string_view text, int limit) {
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;  // the escaped character cannot end the string
            else if (c == '"') in_string = false;
            continue;
        }
        switch (c) {
            case '"': in_string = true; break;
            case '[':
            case '{':
                if (++depth > deepest) {
                    deepest = depth;
                    if (deepest > limit) return limit + 1;
                }
                break;
            case ']':
            case '}':
                if (depth > 0) --depth;
                break;
            default: break;
        }
    }
    return deepest;
}

Result<nlohmann::json> read_json_body(std::string_view body, int max_depth) {
    using nlohmann::json;
    if (json_depth_up_to(body, max_depth) > max_depth)
        return invalid_argument("request body: JSON nested more than " + std::to_string(max_depth) +
                                " levels deep (limit --max-json-depth)");
    json j;
    try {
        j = json::parse(body.begin(), body.end());
    } catch (const json::exception& e) {
        std::string what = e.what();
        if (auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
        return invalid_argument("request body is not valid JSON: " + what);
    }
    if (!j.is_object()) {
        const char* kind = j.is_array() ? "an array" : j.is_string() ? "a string" : j.is_null() ? "null"
                         : j.is_boolean() ? "a boolean" : "a number";
        return invalid_argument(std::string("request body must be a JSON object, got ") + kind);
    }
    return j;
}

}  // namespace kite::server
