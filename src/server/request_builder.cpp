// Prompt forms of /v1/completions (see request_builder.h).
#include "server/request_builder.h"

#include <climits>

#include "server/json_fields.h"

namespace kite::server {

Result<std::vector<PromptInput>> parse_prompts(const json& body, const char* field, int64_t vocab_size,
                                               size_t max_prompts) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) return invalid_argument(std::string(field) + ": is required");
    std::vector<PromptInput> out;
    const std::string expected = "expected a string, a list of strings, a list of token ids or a list of token-id lists";
    auto ids_of = [&](const json& arr) -> Result<PromptInput> {
        PromptInput p;
        p.is_ids = true;
        for (const json& v : arr) {
            if (!v.is_number_integer()) return invalid_argument(std::string(field) + ": " + expected);
            const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                                                                              : v.get<int64_t>();
            if (x < 0 || x >= vocab_size)
                return invalid_argument(std::string(field) + ": token id " + std::to_string(x) +
                                        " is out of the vocabulary [0, " + std::to_string(vocab_size) + ")");
            p.ids.push_back(static_cast<int32_t>(x));
        }
        if (p.ids.empty()) return invalid_argument(std::string(field) + ": a token-id list must not be empty");
        return p;
    };
    if (it->is_string()) {
        out.push_back({it->get<std::string>(), {}, false});
    } else if (it->is_array()) {
        if (it->empty()) return invalid_argument(std::string(field) + ": must not be an empty list");
        const json& first = it->front();
        if (first.is_number_integer()) {
            KITE_ASSIGN_OR_RETURN(auto p, ids_of(*it));
            out.push_back(std::move(p));
        } else {
            for (const json& e : *it) {
                if (e.is_string()) {
                    out.push_back({e.get<std::string>(), {}, false});
                } else if (e.is_array()) {
                    KITE_ASSIGN_OR_RETURN(auto p, ids_of(e));
                    out.push_back(std::move(p));
                } else {
                    return invalid_argument(std::string(field) + ": " + expected + ", found " + type_name(e) + " in the list");
                }
            }
        }
    } else {
        return invalid_argument(std::string(field) + ": " + expected + ", got " + type_name(*it));
    }
    if (out.size() > max_prompts)
        return invalid_argument(std::string(field) + ": at most " + std::to_string(max_prompts) + " prompts, got " +
                                std::to_string(out.size()));
    return out;
}

}  // namespace kite::server
