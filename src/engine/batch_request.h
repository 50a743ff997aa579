// One line of `kite generate --requests FILE.jsonl` -> GenerationRequest: the line's "id" and its
// prompt ("prompt" text, tokenized as Hugging Face does by default, or "prompt_ids" as given); every
// generation field goes through the request table shared with the server (request_fields.h).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/request.h"
#include "engine/request_fields.h"

namespace kite {

class Tokenizer;

// `tokenizer` may be null (then "prompt" is an error that quotes `no_tokenizer_reason`);
// `default_id` names a line without an "id".
Result<GenerationRequest> request_from_json_line(const nlohmann::json& line, const Tokenizer* tokenizer,
                                                 const std::string& no_tokenizer_reason, const ModelLimits& limits,
                                                 const std::string& default_id);

}  // namespace kite
