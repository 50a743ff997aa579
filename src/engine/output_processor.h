// Turning a step's samples into request progress and streamed outputs: appends tokens, forks the
// prompt sequence into n samples or beams (sharing its blocks), checks the stop conditions (EOS,
// stop_token_ids, stop strings with hold-back, min/max tokens, context length), makes text deltas,
// runs the beam-search step, and calls each request's callback. Runs on the engine thread.
#pragma once

#include <memory>
#include <vector>

#include "engine/runner.h"
#include "engine/scheduler.h"

namespace kite {

class Tokenizer;

class OutputProcessor {
public:
    OutputProcessor(std::shared_ptr<const Tokenizer> tokenizer, std::vector<int32_t> eos_ids, int max_model_len,
                    Scheduler& scheduler);

    void process(const ScheduledBatch& batch, const StepOutput& out);
    // Final outputs of a request's sequences that have not had one (aborted, ended by the
    // scheduler, shut down): `reason` where the sequence has none of its own.
    void finish(Request& r, FinishReason reason, const Status& error = Status::ok());
    // A request whose step failed: every sequence ends with kError.
    void fail(Request& r, const Status& error);

    int64_t num_generation_tokens() const { return num_generation_tokens_; }

private:
    void fork_samples(Request& r);
    void append(Request& r, Sequence& s, const TokenLogprob& t);
    static std::string final_text(Sequence& s, bool stop_checks_on);
    void beam_step(Request& r);
    void finish_beams(Request& r, FinishReason reason);
    RequestOutput base_output(const Request& r, const Sequence& s) const;
    // The sequence's last output: finish time, reason, and no further output for it.
    void mark_final(Request& r, Sequence& s, RequestOutput& o);
    bool is_eos(const Request& r, int32_t token) const;
    static double now();

    std::shared_ptr<const Tokenizer> tokenizer_;
    std::vector<int32_t> eos_ids_;
    int max_model_len_;
    Scheduler& scheduler_;
    int64_t num_generation_tokens_ = 0;
};

}  // namespace kite
