// The engine's live state of a request: its sequences (one, n parallel samples, or num_beams
// beams), each with its tokens, how many of them have K/V in the cache, and its output streaming
// state; plus the request's lifecycle state. Owned by the scheduler; plain data, no tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/request.h"

namespace kite {

class SamplerRng;
class IncrementalDecoder;
class StopMatcher;
class BeamSearch;

// waiting -> running -> (preempted: waiting again | swapped -> running) -> finished | aborted
enum class RequestState { kWaiting, kRunning, kSwapped, kFinished, kAborted };

struct Sequence {
    Sequence();
    ~Sequence();
    Sequence(Sequence&&) noexcept;
    Sequence& operator=(Sequence&&) noexcept;

    int64_t id = -1;     // the KV cache manager's key; a beam gets a new one when it is re-forked
    int index = 0;       // which output (0..n-1) this sequence feeds
    std::vector<int32_t> tokens;  // prompt + generated
    int num_prompt_tokens = 0;
    int num_computed_tokens = 0;  // tokens whose K/V is in the cache (or in the KV manager's host copy, while swapped)
    bool finished = false;
    FinishReason finish_reason = FinishReason::kNone;
    std::string stop_reason;
    float cumulative_logprob = 0.0f;
    std::vector<float> beam_row;      // beam search: this beam's log-probabilities, until all beams have one
    bool final_sent = false;          // its finished output went out

    // Streaming state, created on the first generated token by the output processor.
    std::unique_ptr<IncrementalDecoder> decoder;
    std::unique_ptr<StopMatcher> stop_matcher;

    int num_tokens() const { return static_cast<int>(tokens.size()); }
    int num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
    int num_uncomputed_tokens() const { return num_tokens() - num_computed_tokens; }
    std::span<const int32_t> prompt() const { return {tokens.data(), size_t(num_prompt_tokens)}; }
    std::span<const int32_t> output() const {
        return {tokens.data() + num_prompt_tokens, size_t(num_output_tokens())};
    }
};

struct Request {
    Request(GenerationRequest params, OutputCallback on_output, int64_t arrival_seq, double arrival_s);
    ~Request();

    GenerationRequest params;
    OutputCallback on_output;
    int64_t arrival_seq = 0;  // FCFS order
    RequestState state = RequestState::kWaiting;
    std::vector<Sequence> seqs;  // one until the first token is sampled; then n (or num_beams)
    bool forked = false;         // the prompt sequence has been split into n samples / beams
    int num_cached_tokens = -1;  // prompt tokens served from the prefix cache at first schedule
    int num_preemptions = 0;
    RequestTimings timings;
    std::vector<std::unique_ptr<SamplerRng>> rngs;  // per output index, created by the runner
    std::vector<std::unique_ptr<LogitsProcessor>> processors;  // per output index, when params.logits_processor is set
    std::unique_ptr<BeamSearch> beams;              // beam search state (num_beams > 1)

    bool is_beam_search() const { return params.num_beams > 1; }
    // Sequences this request will run at once after forking (its share of max_num_seqs).
    int width() const { return is_beam_search() ? params.num_beams : params.n; }
    bool all_finished() const;
    int num_prompt_tokens() const { return static_cast<int>(params.prompt_ids.size()); }
};

}  // namespace kite
