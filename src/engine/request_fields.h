// JSON -> GenerationRequest for every front end, in one place: the OpenAI routes, rtp-llm's native
// API (`kite serve`) and the JSON lines of `kite generate --requests` all read their generation
// fields through one table (request_fields()), which names each field, the front ends that accept
// it, its type, its range and its default; docs/requests.md is that table in words. The
// generation_config.json defaults are applied by one function, apply_generation_defaults().
//
// A new field is one row in request_fields.cpp: its name, the APIs that read it, its type and
// range (checked before the row's apply function runs) and what it sets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/request.h"
#include "model/model_config.h"

namespace kite {

// The front ends. kBatch is `kite generate --requests` (JSON lines).
enum class ApiKind { kCompletions, kChat, kNative, kBatch };

// What a front end needs besides the engine request.
struct ApiOptions {
    bool stream = false;
    bool include_usage = false;       // OpenAI stream_options.include_usage
    bool continuous_usage = false;    // stream_options.continuous_usage_stats (vLLM): usage in every chunk
    bool echo = false;                // completions
    int logprobs = -1;                // completions / batch: N; chat: top_logprobs (>= 0 when logprobs is true)
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

// What the fields are checked against: the vocabulary, the context, the model's defaults.
struct ModelLimits {
    int64_t vocab_size = 0;
    int max_model_len = 0;
    GenerationDefaults defaults;
};

// The value types a field may have (checked, with one-line errors, before a row applies it).
enum class FieldType { kInt, kNumber, kBool, kString, kStringList, kIntList, kObject, kAny };

// Bounds that depend on the model: resolved against ModelLimits when a request is parsed.
constexpr double kVocabSize = -1e300;    // as a max: vocab_size
constexpr double kLastTokenId = -2e300;  // as a max: vocab_size - 1

struct FieldValue {
    int64_t i = 0;
    double d = 0;
    bool b = false;
    std::string s;
    std::vector<std::string> strings;
    std::vector<int32_t> ids;
    const nlohmann::json* raw = nullptr;  // the value as sent (kObject, kAny)
};

struct FieldContext {
    ParsedGeneration& out;
    ApiKind api;
    const ModelLimits& limits;
    const nlohmann::json& body;  // all fields (native: generate_config merged over the top level)
};

using FieldApply = Status (*)(const FieldValue& v, FieldContext& ctx);

struct RequestField {
    const char* name;
    unsigned apis;           // bit mask of api_bit(ApiKind)
    FieldType type;
    double min = 0, max = 0; // kInt / kNumber: inclusive range; kIntList: range of each id
    size_t max_items = 0;    // lists: most entries
    const char* default_text;
    const char* meaning;
    FieldApply apply;
};

constexpr unsigned api_bit(ApiKind k) { return 1u << static_cast<unsigned>(k); }

// Rows in the order they are applied (a later row may override an earlier one).
const std::vector<RequestField>& request_fields();

// The generation_config.json defaults, applied the same way by every front end (`kite generate`
// flags, the server, `--requests`): greedy when do_sample is false, else its temperature, top_k,
// top_p and min_p; its repetition_penalty; its max_new_tokens (a ceiling the client may raise).
void apply_generation_defaults(const GenerationDefaults& d, GenerationRequest& r);

// Reads every field `kind` accepts from `body` (defaults first, then the table, then the checks
// between fields). max_new_tokens is final only after finalize_request.
Result<ParsedGeneration> parse_generation(const nlohmann::json& body, ApiKind kind, const ModelLimits& limits);

// Checks a tokenized prompt against the model (ids in the vocabulary, context length) and fills
// in max_new_tokens when the client gave none: generation_config's, else the API's default
// (completions 16, --requests 256, chat and native the rest of the context), at most what is
// left of the context.
Status finalize_request(ParsedGeneration& parsed, ApiKind kind, const ModelLimits& limits,
                        std::vector<int32_t> prompt_ids);

// The table as Markdown rows (docs/requests.md holds the same; a test keeps them equal).
std::string request_fields_markdown();

}  // namespace kite
