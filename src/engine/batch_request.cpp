// request_from_json_line (see batch_request.h).
#include "engine/batch_request.h"

#include <climits>

#include "tokenizer/tokenizer.h"

namespace kite {

using nlohmann::json;

Result<GenerationRequest> request_from_json_line(const json& j, const Tokenizer* tokenizer,
                                                 const std::string& no_tokenizer_reason, const ModelLimits& limits,
                                                 const std::string& default_id) {
    if (!j.is_object()) return invalid_argument("expected a JSON object");
    KITE_ASSIGN_OR_RETURN(ParsedGeneration parsed, parse_generation(j, ApiKind::kBatch, limits));
    GenerationRequest& r = parsed.request;
    r.id = default_id;
    if (auto it = j.find("id"); it != j.end()) {
        if (it->is_string()) r.id = it->get<std::string>();
        else if (it->is_number_integer()) r.id = std::to_string(it->get<int64_t>());
        else return invalid_argument("\"id\" must be a string or an integer");
    }
    const bool has_text = j.contains("prompt"), has_ids = j.contains("prompt_ids");
    if (has_text == has_ids) return invalid_argument("give exactly one of \"prompt\" and \"prompt_ids\"");
    std::vector<int32_t> ids;
    if (has_ids) {
        const json& arr = j["prompt_ids"];
        if (!arr.is_array()) return invalid_argument("\"prompt_ids\" must be an array of token ids");
        for (const json& t : arr) {
            if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
                return invalid_argument("\"prompt_ids\" must hold non-negative integers");
            ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
        }
    } else {
        if (!j["prompt"].is_string()) return invalid_argument("\"prompt\" must be a string");
        if (!tokenizer) return failed_precondition("\"prompt\" needs a tokenizer, and none loaded: " + no_tokenizer_reason);
        KITE_ASSIGN_OR_RETURN(ids, tokenizer->encode(j["prompt"].get<std::string>(), /*add_special_tokens=*/true));
    }
    KITE_RETURN_IF_ERROR(finalize_request(parsed, ApiKind::kBatch, limits, std::move(ids)));
    r.stream_text = tokenizer != nullptr;
    return std::move(r);
}

}  // namespace kite
