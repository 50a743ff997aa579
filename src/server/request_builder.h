// The server's side of JSON -> engine request: the generation fields of all three APIs are read by
// engine/request_fields (one table shared with `kite generate --requests`); what is left here is
// the prompt forms of /v1/completions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/request_fields.h"

namespace kite::server {

using kite::ApiKind;
using kite::ApiOptions;
using kite::finalize_request;
using kite::ModelLimits;
using kite::parse_generation;
using kite::ParsedGeneration;

// Prompts of /v1/completions: a string, a list of strings, a list of ids or a list of id lists.
// Each entry is either text (ids empty) or ids.
struct PromptInput {
    std::string text;
    std::vector<int32_t> ids;
    bool is_ids = false;
};
Result<std::vector<PromptInput>> parse_prompts(const nlohmann::json& body, const char* field, int64_t vocab_size,
                                               size_t max_prompts);

}  // namespace kite::server
