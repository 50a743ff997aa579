// Request-body parsing and the error helpers of the server; the typed field readers are
// engine/json_fields (shared with `kite generate --requests`).
#include "server/json_fields.h"

#include <cctype>

#include "server/json_reader.h"

namespace kite::server {

Result<json> parse_json_object(const std::string& body) { return read_json_body(body); }

std::string param_of(const Status& status) {
    const std::string& m = status.message();
    const size_t colon = m.find(": ");
    if (colon == std::string::npos || colon == 0 || colon > 64) return "";
    for (size_t i = 0; i < colon; ++i) {
        const char c = m[i];
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_' ||
              c == '.' || c == '[' || c == ']'))
            return "";
    }
    return m.substr(0, colon);
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace kite::server
