// StopMatcher: what is held back and what is emitted, feed by feed, with the expected text worked by
// hand. The randomized comparison with a naive reference is in test_stop_matcher_fuzz.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/stop_matcher.h"

namespace kite {
namespace {

// Feeds each piece and returns what every feed emitted, then what flush() emitted.
std::vector<std::string> run(StopMatcher& m, const std::vector<std::string>& pieces) {
    std::vector<std::string> out;
    for (const std::string& p : pieces) out.push_back(m.feed(p));
    out.push_back(m.flush());
    return out;
}

using Strings = std::vector<std::string>;

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
    StopMatcher m;
    EXPECT_TRUE(m.empty());
    EXPECT_EQ(run(m, {"Hello", " wor", "ld"}), (Strings{"Hello", " wor", "ld", ""}));
    EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
    StopMatcher only_empty({""}, false);
    EXPECT_TRUE(only_empty.empty());
    EXPECT_EQ(run(only_empty, {"abc"}), (Strings{"abc", ""}));
    StopMatcher m({"", "b"}, false);
    EXPECT_FALSE(m.empty());
    EXPECT_EQ(run(m, {"aab", "c"}), (Strings{"aa", "", ""}));
    EXPECT_EQ(m.matched(), "b");
}

TEST(StopMatcher, MatchInsideOneFeedCutsBeforeTheStop) {
    StopMatcher m({"END"}, false);
    EXPECT_EQ(m.feed("Hello world END more text"), "Hello world ");
    EXPECT_TRUE(m.stopped());
    EXPECT_EQ(m.matched(), "END");
    EXPECT_EQ(m.feed("anything"), "");
    EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, IncludeStopStringKeepsItAndNothingAfter) {
    StopMatcher m({"END"}, true);
    EXPECT_EQ(m.feed("Hello END more"), "Hello END");
    EXPECT_TRUE(m.stopped());
    EXPECT_EQ(m.feed("x"), "");
}

TEST(StopMatcher, StopSpanningSeveralFeedsIsHeldThenCut) {
    StopMatcher m({"END"}, false);
    EXPECT_EQ(run(m, {"Hel", "lo E", "N", "D!", "more"}), (Strings{"Hel", "lo ", "", "", "", ""}));
    EXPECT_TRUE(m.stopped());
    StopMatcher inc({"END"}, true);
    EXPECT_EQ(run(inc, {"Hel", "lo E", "N", "D!"}), (Strings{"Hel", "lo ", "", "END", ""}));
}

TEST(StopMatcher, HoldsOnlyTheTailThatCanStillBecomeAStop) {
    StopMatcher m({"abc"}, false);
    EXPECT_EQ(m.feed("xxab"), "xx");   // "ab" may become "abc"
    EXPECT_EQ(m.feed("d"), "abd");     // it did not
    EXPECT_EQ(m.feed("aXa"), "aX");    // "a" may; "aXa" as a whole may not
    EXPECT_EQ(m.feed("b"), "");
    EXPECT_EQ(m.feed("b"), "abb");
    EXPECT_FALSE(m.stopped());
    EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, FlushWithoutMatchReturnsHeldText) {
    StopMatcher m({"xyz", "STOP"}, false);
    EXPECT_EQ(m.feed("abcx"), "abc");
    EXPECT_EQ(m.feed("y"), "");
    EXPECT_EQ(m.flush(), "xy");
    EXPECT_FALSE(m.stopped());
    EXPECT_EQ(m.matched(), "");
}

TEST(StopMatcher, EarliestStartInTheTextWinsNotListOrder) {
    StopMatcher m({"world", "lo"}, false);
    EXPECT_EQ(m.feed("hello world"), "hel");
    EXPECT_EQ(m.matched(), "lo");
}

TEST(StopMatcher, SameStartPrefersTheShorterStop) {
    StopMatcher m({"abc", "ab"}, true);
    EXPECT_EQ(m.feed("xabcd"), "xab");
    EXPECT_EQ(m.matched(), "ab");
}

TEST(StopMatcher, LaterMatchWaitsForAnEarlierCandidate) {
    // "bc" completes inside "abc", but "abcd" started earlier and may still complete.
    StopMatcher m({"abcd", "bc"}, false);
    EXPECT_EQ(run(m, {"_ab", "c", "d"}), (Strings{"_", "", "", ""}));
    EXPECT_EQ(m.matched(), "abcd");
    // The earlier candidate fails: "bc" wins, and the text before it is emitted.
    StopMatcher m2({"abcd", "bc"}, true);
    EXPECT_EQ(run(m2, {"_ab", "c", "x"}), (Strings{"_", "", "abc", ""}));
    EXPECT_EQ(m2.matched(), "bc");
    // The sequence ends while waiting: the complete match is honoured by flush.
    StopMatcher m3({"abcd", "bc"}, false);
    EXPECT_EQ(run(m3, {"_abc"}), (Strings{"_", "a"}));
    EXPECT_TRUE(m3.stopped());
    EXPECT_EQ(m3.matched(), "bc");
}

TEST(StopMatcher, SelfOverlappingStop) {
    StopMatcher m({"aab"}, false);
    EXPECT_EQ(m.feed("a"), "");
    EXPECT_EQ(m.feed("a"), "");
    EXPECT_EQ(m.feed("a"), "a");  // "aaa": only the last "aa" can still start "aab"
    EXPECT_EQ(m.feed("b"), "");
    EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, UnicodeStopsAndText) {
    StopMatcher m({"。", "世界"}, false);
    EXPECT_EQ(run(m, {"你", "好", "世", "界", "!"}), (Strings{"你", "好", "", "", "", ""}));
    EXPECT_EQ(m.matched(), "世界");

    StopMatcher m2({"。"}, true);
    EXPECT_EQ(m2.feed("你好。再见"), "你好。");

    // A multi-byte character split between feeds (byte-level tokens): only its prefix is held.
    StopMatcher m3({"é!"}, false);
    EXPECT_EQ(m3.feed("caf\xC3"), "caf");
    EXPECT_EQ(m3.feed("\xA9"), "");
    EXPECT_EQ(m3.feed("?"), "\xC3\xA9?");  // "café?" complete, valid UTF-8 again
    EXPECT_EQ(m3.feed("é"), "");
    EXPECT_EQ(m3.feed("!"), "");
    EXPECT_TRUE(m3.stopped());
}

TEST(StopMatcher, StopAtTheVeryStart) {
    StopMatcher m({"<|end|>"}, false);
    EXPECT_EQ(run(m, {"<|", "end|>", "tail"}), (Strings{"", "", "", ""}));
    EXPECT_TRUE(m.stopped());
}

}  // namespace
}  // namespace kite
