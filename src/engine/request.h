// What a caller asks the engine for, and what the engine streams back. Plain data: the HTTP server,
// the offline batch command and tests all speak these types.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/logits_processor.h"
#include "engine/sampling.h"

namespace kite {

class LoraAdapter;

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort", "error"; "" for kNone

struct GenerationRequest {
    std::string id;                      // unique among live requests
    std::vector<int32_t> prompt_ids;
    SamplingParams sampling;
    int max_new_tokens = 16;
    int min_new_tokens = 0;              // EOS and stop conditions ignored before this many tokens
    bool ignore_eos = false;
    std::vector<int32_t> stop_token_ids; // besides the model's EOS ids
    std::vector<std::string> stop;       // stop strings; matched text is not part of the output
    bool include_stop_str_in_output = false;
    int n = 1;                           // parallel samples sharing the prompt's blocks
    int num_beams = 1;                   // > 1: beam search (HF generate semantics)
    int num_return_sequences = 1;        // beams returned (<= num_beams)
    float length_penalty = 1.0f;
    bool early_stopping = false;
    int priority = 0;                    // smaller runs first under the priority policy
    bool skip_special_tokens = true;     // for the text deltas
    bool stream_text = true;             // produce text deltas (needs a tokenizer)
    LogitsProcessorFactory logits_processor;  // optional: constrains each sequence's tokens (not with beams)
    std::shared_ptr<const LoraAdapter> lora;  // optional: a LoRA adapter on top of the base model
};

struct RequestTimings {
    double arrival_s = 0;      // steady clock, seconds
    double first_token_s = 0;  // 0 until the first token
    double finish_s = 0;
    int num_steps = 0;         // engine steps this request took part in
};

// One update for one sequence of a request (index < n, or < num_return_sequences for beams).
struct RequestOutput {
    std::string request_id;
    int index = 0;
    std::vector<int32_t> new_token_ids;   // tokens since the previous update
    std::vector<TokenLogprob> new_logprobs;  // parallel to new_token_ids when logprobs were asked
    std::string text_delta;               // text since the previous update (stop strings held back)
    bool finished = false;
    FinishReason finish_reason = FinishReason::kNone;
    std::string stop_reason;              // the stop string or token that ended it, if any
    Status error;                         // set when finish_reason == kError
    int num_prompt_tokens = 0;
    int num_cached_tokens = 0;            // prompt tokens served from the prefix cache
    int num_output_tokens = 0;            // total so far
    float cumulative_logprob = 0.0f;      // beam search score source
    double score = 0.0;                   // beam search: sum_logprob / len ** length_penalty (HF sequences_scores)
    RequestTimings timings;
};

// Called on the engine thread for every update; it must not block (enqueue and return).
using OutputCallback = std::function<void(const RequestOutput&)>;

}  // namespace kite
