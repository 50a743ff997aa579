// Pieces the three generation APIs share: the model-name check, tokenizing a prompt, usage and
// token-text helpers, and launching a GenerationJob under the concurrency limit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/generation_job.h"
#include "server/handlers.h"

namespace kite::server {

// 404 when the body names a model other than the served one ("model" may be absent).
Status check_model(const ServerState& st, const nlohmann::json& body);

// A prompt ready for the engine: its ids and the text it came from (for echo).
struct PreparedPrompt {
    std::vector<int32_t> ids;
    std::string text;
};

// Text -> ids with the model's tokenizer (errors name `field`).
Result<std::vector<int32_t>> encode_text(const ServerState& st, const std::string& text, bool add_special_tokens,
                                         const char* field);

// OpenAI-style messages (already normalized) rendered with the served chat template, with the
// body's add_generation_prompt, chat_template_kwargs and tools; then tokenized (openai_chat.cpp).
Result<PreparedPrompt> render_chat_prompt(const ServerState& st, const nlohmann::json& body,
                                          const nlohmann::json& messages);

// Checks each prompt, takes a concurrency slot (429 when none is left), submits one engine request
// per prompt and lets the job answer. Errors are answered here.
void launch_generation(ServerState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex,
                       ParsedGeneration parsed, ApiKind kind, std::vector<PreparedPrompt> prompts,
                       std::unique_ptr<GenerationApi> api, const char* id_prefix);

// {"prompt_tokens", "completion_tokens", "total_tokens"} (+ cached tokens in prompt_tokens_details).
nlohmann::json usage_json(const GenerationJob& job);
// An OpenAI stream chunk: {id, object, created, model, choices}.
nlohmann::json openai_chunk(GenerationJob& job, const char* object, nlohmann::json choices);
// The end of an OpenAI stream: an error event, or the usage chunk when asked for; then [DONE].
void openai_stream_end(GenerationJob& job, const char* object, const Status& error);
// The text of one token as the client sees it (special tokens kept).
std::string token_text(const Tokenizer& tok, int32_t id);

}  // namespace kite::server
