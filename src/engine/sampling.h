// Turning one row of logits into the next token: penalties, temperature, top-k, top-p, min-p,
// logit bias, then a draw from the request's own seeded generator; plus log-probabilities.
// Pure CPU code over a float row; the CUDA backend will get its own batched sampler later.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kite {

constexpr int kMaxLogprobs = 20;  // most top logprobs a request may ask for (OpenAI's limit)

struct SamplingParams {
    float temperature = 1.0f;        // 0: greedy (argmax)
    int top_k = 0;                   // 0 or -1: off
    float top_p = 1.0f;              // 1: off
    float min_p = 0.0f;              // 0: off; keeps tokens with p >= min_p * p_max
    float repetition_penalty = 1.0f; // HF: over prompt + output tokens; logit>0 ? /r : *r
    float presence_penalty = 0.0f;   // OpenAI: over output tokens; -= presence if count > 0
    float frequency_penalty = 0.0f;  // OpenAI: over output tokens; -= frequency * count
    std::vector<std::pair<int32_t, float>> logit_bias;  // added to the raw logits
    std::optional<uint64_t> seed;    // same seed -> same output
    int logprobs = -1;               // -1: none; N >= 0: sampled token's logprob + top N

    bool is_greedy() const { return temperature <= 0.0f; }
    // One-line error naming the first bad field, or ok.
    Status validate(int64_t vocab_size) const;
};

struct TokenLogprob {
    int32_t token = -1;
    float logprob = 0.0f;
    std::vector<std::pair<int32_t, float>> top;  // top-N (token, logprob), best first
};

// Per-request random state: seeded from `seed` when given, else from a nondeterministic source.
class SamplerRng {
public:
    explicit SamplerRng(std::optional<uint64_t> seed);
    double uniform();  // [0, 1)
private:
    std::mt19937_64 gen_;
};

// Picks the next token. `logits` [vocab] is modified in place: on return it holds the logits after
// logit_bias and the penalties (before temperature). `prompt_ids` / `output_ids` feed the
// penalties; ids outside the vocabulary are ignored. Logprobs (when params.logprobs >= 0) are of the model's distribution: log-softmax of
// the raw logits, before penalties, temperature and truncation (vLLM's default).
TokenLogprob sample_token(std::span<float> logits, const SamplingParams& params,
                          std::span<const int32_t> prompt_ids, std::span<const int32_t> output_ids,
                          SamplerRng& rng);

// logit_bias, then the repetition / presence / frequency penalties, in place: what sample_token
// does to the row before temperature and truncation (speculative verification needs the
// distribution a draw would use without drawing).
void apply_penalties(std::span<float> logits, const SamplingParams& params, std::span<const int32_t> prompt_ids,
                     std::span<const int32_t> output_ids);

// log-softmax of a row, returned in place of the logits (for beam search and logprobs).
void log_softmax_inplace(std::span<float> row);

// The distribution a draw picks from once temperature, top-k, top-p and min-p have been applied
// (penalties and logit_bias are not: apply them to `logits` first). (token, probability) pairs,
// best first, summing to 1; greedy params give the argmax with probability 1. sample_token draws
// from exactly this; tests and other samplers (CUDA) check themselves against it.
std::vector<std::pair<int32_t, double>> sampling_distribution(std::span<const float> logits,
                                                              const SamplingParams& params);

}  // namespace kite
