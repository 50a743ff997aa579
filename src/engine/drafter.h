// Where speculative draft tokens come from. A Drafter proposes up to K tokens that may follow a
// running sequence; the target model then verifies them in one forward step (spec_decode.h), so a
// drafter can only cost speed, never change the output distribution.
//
// Implemented: NgramDrafter (prompt lookup: no model). The seam for the others:
//  - a draft model (`--speculative-model`) needs its own KV cache advanced over the accepted
//    tokens and rolled back with the target's; it would implement propose() by running its model
//    greedily K steps and observe() to roll its cache to the verified length;
//  - EAGLE / Medusa heads read the target's last hidden states: DraftContext would carry the
//    hidden-state rows of the verified positions (the runner has them before the LM head).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace kite {

// What a drafter may look at for one sequence.
struct DraftContext {
    int64_t seq_id = -1;
    std::span<const int32_t> tokens;  // prompt + output so far (all verified)
};

class Drafter {
public:
    virtual ~Drafter() = default;
    // Up to `max_tokens` guesses of the tokens following ctx.tokens (fewer or none is fine).
    virtual std::vector<int32_t> propose(const DraftContext& ctx, int max_tokens) = 0;
    // The sequence's KV is gone (finished, preempted): a drafter with per-sequence state drops it.
    virtual void forget(int64_t /*seq_id*/) {}
};

// Prompt lookup decoding: the last earlier occurrence of the sequence's final `n` tokens in
// prompt + output, and the tokens that followed it. Pays off when the output repeats the input
// (code editing, extraction, summaries quoting the source).
class NgramDrafter final : public Drafter {
public:
    explicit NgramDrafter(int n) : n_(n) {}
    std::vector<int32_t> propose(const DraftContext& ctx, int max_tokens) override;

private:
    int n_;
};

}  // namespace kite
