// Out-of-line special members of Sequence and Request (their streaming state types are
// incomplete in the header), and finish_reason_name.
#include "engine/sequence.h"

#include <algorithm>

#include "engine/beam_search.h"
#include "engine/sampling.h"
#include "engine/stop_matcher.h"
#include "tokenizer/tokenizer.h"

namespace kite {

const char* finish_reason_name(FinishReason r) {
    switch (r) {
        case FinishReason::kNone: return "";
        case FinishReason::kStop: return "stop";
        case FinishReason::kLength: return "length";
        case FinishReason::kAbort: return "abort";
        case FinishReason::kError: return "error";
    }
    return "";
}

Sequence::Sequence() = default;
Sequence::~Sequence() = default;
Sequence::Sequence(Sequence&&) noexcept = default;
Sequence& Sequence::operator=(Sequence&&) noexcept = default;

Request::Request(GenerationRequest p, OutputCallback cb, int64_t seq, double arrival_s)
    : params(std::move(p)), on_output(std::move(cb)), arrival_seq(seq) {
    timings.arrival_s = arrival_s;
    // Forks never reallocate `seqs`, so a Sequence's address is stable for the request's life.
    seqs.reserve(static_cast<size_t>(std::max(1, width())));
}
Request::~Request() = default;

bool Request::all_finished() const {
    for (const Sequence& s : seqs) {
        if (!s.finished) return false;
    }
    return !seqs.empty();
}

}  // namespace kite
