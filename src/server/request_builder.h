// JSON body -> engine request, for all three APIs, in one place: which field names each API uses,
// their types and ranges, defaults from the model's generation_config, and the checks that need
// the prompt (context length, token ids in the vocabulary).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/request.h"
#include "model/model_config.h"

namespace kite::server {

enum class ApiKind { kCompletions, kChat, kNative };

// What the API layer needs besides the engine request.
struct ApiOptions {
    bool stream = false;
    bool include_usage = false;       // OpenAI stream_options.include_usage
    bool continuous_usage = false;    // stream_options.continuous_usage_stats (vLLM): usage in every chunk
    bool echo = false;                // completions
    int logprobs = -1;                // completions: N; chat: top_logprobs (>= 0 when logprobs is true)
    bool max_tokens_given = false;
    bool return_incremental = false;  // native
    bool return_input_ids = false;
    bool return_output_ids = false;
    int64_t timeout_ms = 0;           // native; 0: none
};

struct ParsedGeneration {
    GenerationRequest request;  // everything but id and prompt_ids
    ApiOptions api;
    // Native stop_words_list entries longer than one token; the caller turns them into stop strings
    // (single-token entries are already in request.stop_token_ids).
    std::vector<std::vector<int32_t>> stop_id_sequences;
};

struct ModelLimits {
    int64_t vocab_size = 0;
    int max_model_len = 0;
    GenerationDefaults defaults;
};

Result<ParsedGeneration> parse_generation(const nlohmann::json& body, ApiKind kind, const ModelLimits& limits);

// Checks a tokenized prompt against the model (ids in the vocabulary, context length) and fills
// in max_new_tokens when the client gave none: what is left of the context (capped for
// completions at OpenAI's default of 16).
Status finalize_request(ParsedGeneration& parsed, ApiKind kind, const ModelLimits& limits,
                        std::vector<int32_t> prompt_ids);

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
