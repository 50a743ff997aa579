// Verifying draft tokens against the target model, losslessly. The target ran one forward step
// over [last verified token, d_1, ..., d_k] and gave k + 1 logit rows: row i is the target's
// distribution for the token after d_1..d_i. Drafts are accepted left to right while they are what
// the target would pick; the first rejected position (or the row after the last draft) yields one
// token from the target itself, so every step makes 1..k+1 tokens.
//
// Greedy: a draft is accepted when it equals the argmax (after penalties): output identical to
// decoding without drafts. Sampled: rejection sampling (Leviathan et al. 2023, Chen et al. 2023)
// with a point-mass draft q = delta(d): accept d with probability p(d); on rejection draw from
// normalize(max(p - q, 0)), which is p with d removed. Each emitted token then has exactly the
// target's distribution p (penalties, temperature, top-k/p, min-p included).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling.h"

namespace kite {

struct Verification {
    std::vector<TokenLogprob> tokens;  // accepted drafts, then the target's own token
    int num_accepted = 0;              // drafts among `tokens`
};

// `rows` holds draft.size() + 1 rows of `vocab` logits (modified in place). `output_ids` are the
// sequence's output tokens before the drafts (the penalties see accepted drafts as output).
Verification verify_drafts(std::span<float> rows, size_t vocab, std::span<const int32_t> draft,
                           const SamplingParams& params, std::span<const int32_t> prompt_ids,
                           std::span<const int32_t> output_ids, SamplerRng& rng);

}  // namespace kite
