// Beam search with the semantics of Hugging Face generate(): per step the best 2 * num_beams
// continuations over all beams by cumulative log-probability; an EOS among the top num_beams closes a
// hypothesis scored sum_logprobs / generated_len ** length_penalty; the search is done when
// num_beams hypotheses exist and none of the running beams can beat the worst (early_stopping
// false), or at once (early_stopping true). Pure arithmetic over log-probability rows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kite {

struct BeamCandidate {
    int parent = 0;        // index of the beam it extends
    int32_t token = -1;
    float sum_logprob = 0;  // cumulative log-probability of the extended beam
};

struct BeamHypothesis {
    std::vector<int32_t> output_ids;  // generated tokens, including the closing EOS if any
    float sum_logprob = 0;
    double score = 0;  // sum_logprob / generated_len ** length_penalty (HF sequences_scores)
};

class BeamSearch {
public:
    BeamSearch(int num_beams, float length_penalty, bool early_stopping, std::vector<int32_t> eos_ids);

    // One step. rows[i]: log-probabilities (already masked, e.g. EOS before min_new_tokens) of beam
    // i, whose generated tokens are outputs[i] and cumulative log-probability sums[i];
    // num_generated = tokens each beam has generated so far. Returns the num_beams beams to go on
    // with, best first; finished hypotheses are kept inside.
    std::vector<BeamCandidate> step(const std::vector<std::span<const float>>& rows, const std::vector<float>& sums,
                                    const std::vector<std::span<const int32_t>>& outputs, int num_generated);
    bool done() const { return done_; }

    // The end: adds the running beams (unless done) and returns the best `num_return`, best first.
    std::vector<BeamHypothesis> finalize(const std::vector<std::span<const int32_t>>& outputs,
                                         const std::vector<float>& sums, int num_return);

private:
    void add(std::vector<int32_t> output_ids, float sum_logprob, int generated_len);
    bool is_done(float best_sum, int generated_len) const;

    int num_beams_;
    float length_penalty_;
    bool early_stopping_;
    std::vector<int32_t> eos_ids_;
    std::vector<BeamHypothesis> hyps_;  // at most num_beams, in insertion order
    double worst_score_ = 1e9;
    bool done_ = false;
};

}  // namespace kite
