// Randomized property test of StopMatcher against a naive reference: concatenate every piece, find
// the stop starting earliest (shortest on ties), cut there. Small alphabets (with a multi-byte
// character) make overlaps, self-overlaps and stops spanning feeds common.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/stop_matcher.h"

namespace kite {
namespace {

const std::vector<std::string> kAlphabet = {"a", "b", "c", "\xC3\xA9" /* é */};

std::string random_string(std::mt19937& gen, int min_len, int max_len) {
    std::uniform_int_distribution<int> len(min_len, max_len), sym(0, static_cast<int>(kAlphabet.size()) - 1);
    std::string s;
    for (int n = len(gen); n > 0; --n) s += kAlphabet[sym(gen)];
    return s;
}

// The whole text cut at the earliest-starting stop (shortest on ties), as the matcher promises.
struct Expected {
    std::string text;
    bool stopped = false;
    std::string matched;
};

Expected reference(const std::string& full, const std::vector<std::string>& stops, bool include) {
    size_t best = std::string::npos;
    std::string matched;
    for (const std::string& s : stops) {
        if (s.empty()) continue;
        for (size_t pos = 0; pos + s.size() <= full.size(); ++pos) {
            if (full.compare(pos, s.size(), s) != 0) continue;
            if (pos < best || (pos == best && s.size() < matched.size())) {
                best = pos;
                matched = s;
            }
            break;
        }
    }
    if (best == std::string::npos) return {full, false, ""};
    return {full.substr(0, best) + (include ? matched : ""), true, matched};
}

// True when `tail` is a proper prefix of some stop, i.e. holding it back is justified.
bool could_start_stop(const std::string& tail, const std::vector<std::string>& stops) {
    for (const std::string& s : stops)
        if (!s.empty() && tail.size() < s.size() && s.compare(0, tail.size(), tail) == 0) return true;
    return false;
}

TEST(StopMatcherFuzz, MatchesNaiveReferenceOnRandomFeeds) {
    std::mt19937 gen(20261122);
    std::uniform_int_distribution<int> num_stops(0, 4), num_pieces(0, 12), coin(0, 1);
    for (int iter = 0; iter < 20000; ++iter) {
        std::vector<std::string> stops;
        for (int i = num_stops(gen); i > 0; --i) stops.push_back(random_string(gen, 0, 4));
        const bool include = coin(gen);
        std::vector<std::string> pieces;
        for (int i = num_pieces(gen); i > 0; --i) pieces.push_back(random_string(gen, 0, 5));
        std::string full;
        for (const auto& p : pieces) full += p;
        const Expected want = reference(full, stops, include);

        StopMatcher m(stops, include);
        std::string emitted, fed;
        for (const std::string& p : pieces) {
            fed += p;
            emitted += m.feed(p);
            SCOPED_TRACE("iteration " + std::to_string(iter) + ", fed \"" + fed + "\"");
            // Never emits what a later stop could still cut away.
            ASSERT_EQ(want.text.compare(0, emitted.size(), emitted), 0) << "emitted \"" << emitted << "\"";
            if (m.stopped()) continue;
            // Holds back nothing that could not still begin a stop.
            ASSERT_LE(emitted.size(), fed.size());
            ASSERT_EQ(fed.compare(0, emitted.size(), emitted), 0);
            const std::string held = fed.substr(emitted.size());
            if (!held.empty()) {
                ASSERT_TRUE(could_start_stop(held, stops)) << "held \"" << held << "\"";
            }
        }
        emitted += m.flush();
        ASSERT_EQ(emitted, want.text) << "iteration " << iter << ", text \"" << full << "\"";
        ASSERT_EQ(m.stopped(), want.stopped) << "iteration " << iter;
        ASSERT_EQ(m.matched(), want.matched) << "iteration " << iter;
    }
}

}  // namespace
}  // namespace kite
