// The Responses API request mapped onto the chat path (openai_responses.cpp); exposed for tests.
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace kite::server {

struct ResponsesTranslation {
    nlohmann::json chat_body;  // a /v1/chat/completions body: messages, max_tokens, response_format, ...
    nlohmann::json echo;       // request settings the response object repeats
};

// Errors name the Responses field (input[2].content, text.format, ...).
Result<ResponsesTranslation> translate_responses_request(const nlohmann::json& body);

}  // namespace kite::server
