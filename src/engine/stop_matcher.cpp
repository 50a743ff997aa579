// Stop strings over streamed text, matched on UTF-8 bytes. The result never depends on how the text
// was split into feeds: it is the full text cut at the stop string that starts earliest (the
// shortest one when several start there), exactly as if everything had arrived at once.
#include "engine/stop_matcher.h"

#include <algorithm>

namespace kite {
namespace {

struct Match {
    size_t pos = std::string_view::npos;
    size_t stop = 0;  // index into the stop list
};

// The complete stop string starting earliest; among those starting there, the shortest, because
// while streaming it completes first and the request ends there.
Match find_earliest(std::string_view text, const std::vector<std::string>& stops) {
    Match m;
    for (size_t i = 0; i < stops.size(); ++i) {
        const size_t pos = text.find(stops[i]);
        if (pos == std::string_view::npos) continue;
        if (pos < m.pos || (pos == m.pos && stops[i].size() < stops[m.stop].size())) m = {pos, i};
    }
    return m;
}

// The smallest q such that text[q:] is a proper prefix of some stop string, i.e. the earliest
// place where a stop could still begin once more text arrives; text.size() when there is none.
size_t earliest_partial(std::string_view text, const std::vector<std::string>& stops) {
    size_t best = text.size();
    for (const std::string& s : stops) {
        // Only tails shorter than s can be proper prefixes of it.
        const size_t from = text.size() >= s.size() ? text.size() - s.size() + 1 : 0;
        for (size_t q = from; q < best; ++q) {
            if (text[q] == s[0] && s.compare(0, text.size() - q, text, q) == 0) {
                best = q;
                break;
            }
        }
    }
    return best;
}

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stops, bool include_stop_str_in_output)
    : include_(include_stop_str_in_output) {
    for (std::string& s : stops) {
        if (s.empty()) continue;  // would match everywhere; OpenAI clients send "" to mean none
        max_len_ = std::max(max_len_, s.size());
        stops_.push_back(std::move(s));
    }
}

std::string StopMatcher::feed(std::string_view text) {
    if (stopped_) return "";
    if (stops_.empty()) return std::string(text);
    pending_.append(text);
    const Match m = find_earliest(pending_, stops_);
    const size_t hold = earliest_partial(pending_, stops_);
    if (m.pos != std::string_view::npos && m.pos <= hold) return stop_at(m.pos, m.stop);
    // Either no match yet, or a match that a stop starting earlier (at `hold`) may still beat:
    // everything before `hold` is safe, the rest waits.
    std::string out = pending_.substr(0, hold);
    pending_.erase(0, hold);
    return out;
}

std::string StopMatcher::stop_at(size_t pos, size_t stop_index) {
    matched_ = stops_[stop_index];
    stopped_ = true;
    std::string out = pending_.substr(0, pos);
    if (include_) out += matched_;
    pending_.clear();
    return out;
}

std::string StopMatcher::flush() {
    if (stopped_) return "";
    // No more text can come, so a match that was waiting on an earlier partial one now wins.
    const Match m = find_earliest(pending_, stops_);
    if (m.pos != std::string_view::npos) return stop_at(m.pos, m.stop);
    std::string out = std::move(pending_);
    pending_.clear();
    return out;
}

}  // namespace kite
