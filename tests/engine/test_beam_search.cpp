// BeamSearch arithmetic on a 4-token vocabulary (token 3 is EOS), worked out by hand following
// Hugging Face's BeamSearchScorer: which candidates close hypotheses, which go on, when the search
// is done, and what finalize returns. stories260K never emits EOS, so these paths are checked here.
#include <gtest/gtest.h>

#include <vector>

#include "engine/beam_search.h"

namespace kite {
namespace {

using Ids = std::vector<int32_t>;

std::vector<std::span<const int32_t>> spans(const std::vector<Ids>& v) {
    std::vector<std::span<const int32_t>> out;
    for (const Ids& x : v) out.emplace_back(x);
    return out;
}

std::vector<std::span<const float>> rows(const std::vector<std::vector<float>>& v) {
    std::vector<std::span<const float>> out;
    for (const auto& x : v) out.emplace_back(x);
    return out;
}

// Step 0 from the prompt: candidates -0.5 (EOS), -1 (0), -2 (1), -3 (2). The EOS at rank 0 closes
// hypothesis [3] with score -0.5 / 1; tokens 0 and 1 go on.
std::vector<BeamCandidate> first_step(BeamSearch& bs) {
    const std::vector<std::vector<float>> r = {{-1.0f, -2.0f, -3.0f, -0.5f}};
    const std::vector<Ids> out = {{}};
    return bs.step(rows(r), {0.0f}, spans(out), 0);
}

}  // namespace

TEST(BeamSearch, EosClosesHypothesesAndTheBestScoresWin) {
    BeamSearch bs(2, 1.0f, false, {3});
    std::vector<BeamCandidate> next = first_step(bs);
    ASSERT_EQ(next.size(), 2u);
    EXPECT_EQ(next[0].token, 0);
    EXPECT_FLOAT_EQ(next[0].sum_logprob, -1.0f);
    EXPECT_EQ(next[1].token, 1);
    EXPECT_FALSE(bs.done());  // one hypothesis of two

    // Step 1: b0=[0] (-1), b1=[1] (-2). Top 4: b0 t0 -1.1, b1 t3 -2.05 (EOS, rank 1: closes [1,3]
    // with -2.05 / 2 = -1.025), b1 t1 -2.2. Done? worst -1.025 >= best -1.1 / 2 = -0.55: no.
    std::vector<std::vector<float>> r = {{-0.1f, -5.0f, -5.0f, -3.0f}, {-5.0f, -0.2f, -5.0f, -0.05f}};
    std::vector<Ids> out = {{0}, {1}};
    next = bs.step(rows(r), {-1.0f, -2.0f}, spans(out), 1);
    ASSERT_EQ(next.size(), 2u);
    EXPECT_EQ(next[0].parent, 0);
    EXPECT_EQ(next[0].token, 0);
    EXPECT_EQ(next[1].parent, 1);
    EXPECT_EQ(next[1].token, 1);
    EXPECT_NEAR(next[1].sum_logprob, -2.2f, 1e-6);
    EXPECT_FALSE(bs.done());

    // Step 2: b0=[0,0] (-1.1), b1=[1,1] (-2.2). Top: b0 t3 -1.11 (EOS: [0,0,3] scores -0.37 and
    // pushes out -1.025; worst becomes -0.5), b1 t0 -2.5, then b0 t0 / t1 tie at -4.1 (token 0 first).
    r = {{-3.0f, -3.0f, -3.0f, -0.01f}, {-0.3f, -3.0f, -3.0f, -3.0f}};
    out = {{0, 0}, {1, 1}};
    next = bs.step(rows(r), {-1.1f, -2.2f}, spans(out), 2);
    ASSERT_EQ(next.size(), 2u);
    EXPECT_EQ(next[0].parent, 1);
    EXPECT_EQ(next[0].token, 0);
    EXPECT_EQ(next[1].parent, 0);
    EXPECT_EQ(next[1].token, 0);
    EXPECT_FALSE(bs.done());  // -0.5 >= -1.11 / 3 = -0.37 is false

    // Finalize: the running beams score -2.5 / 3 and -4.1 / 3, below the worst kept (-0.5).
    const std::vector<Ids> final_out = {{1, 1, 0}, {0, 0, 0}};
    const std::vector<BeamHypothesis> best = bs.finalize(spans(final_out), {-2.5f, -4.1f}, 2);
    ASSERT_EQ(best.size(), 2u);
    EXPECT_EQ(best[0].output_ids, (Ids{0, 0, 3}));
    EXPECT_NEAR(best[0].score, -1.11 / 3, 1e-6);
    EXPECT_EQ(best[1].output_ids, (Ids{3}));
    EXPECT_NEAR(best[1].score, -0.5, 1e-6);
}

TEST(BeamSearch, EarlyStoppingEndsOnceEnoughHypothesesExist) {
    BeamSearch bs(2, 1.0f, true, {3});
    first_step(bs);
    const std::vector<std::vector<float>> r = {{-0.1f, -5.0f, -5.0f, -3.0f}, {-5.0f, -0.2f, -5.0f, -0.05f}};
    const std::vector<Ids> out = {{0}, {1}};
    bs.step(rows(r), {-1.0f, -2.0f}, spans(out), 1);
    EXPECT_TRUE(bs.done());
    // Done: the running beams are not considered.
    const std::vector<Ids> running = {{0, 0}, {1, 1}};
    const std::vector<BeamHypothesis> best = bs.finalize(spans(running), {-1.1f, -2.2f}, 2);
    ASSERT_EQ(best.size(), 2u);
    EXPECT_EQ(best[0].output_ids, (Ids{3}));
    EXPECT_EQ(best[1].output_ids, (Ids{1, 3}));
    EXPECT_NEAR(best[1].score, -1.025, 1e-6);
}

TEST(BeamSearch, DoneWhenNoRunningBeamCanBeatTheWorstHypothesis) {
    BeamSearch bs(2, 1.0f, false, {3});
    first_step(bs);
    // Top: b1 t3 -2.05 (EOS, rank 0: [1,3] at -1.025), b0 t0 -3.5, b0 t1 -6. Best candidate -2.05
    // over 2 tokens = -1.025 cannot beat the worst kept (-1.025): done.
    const std::vector<std::vector<float>> r = {{-2.5f, -5.0f, -5.0f, -5.0f}, {-5.0f, -5.0f, -5.0f, -0.05f}};
    const std::vector<Ids> out = {{0}, {1}};
    bs.step(rows(r), {-1.0f, -2.0f}, spans(out), 1);
    EXPECT_TRUE(bs.done());
}

TEST(BeamSearch, LengthPenaltyFavoursLongerHypotheses) {
    // length_penalty 2: [3] scores -0.5 / 1 = -0.5, [0,3] scores -1.2 / 4 = -0.3 and wins.
    BeamSearch bs(2, 2.0f, false, {3});
    first_step(bs);
    const std::vector<std::vector<float>> r = {{-5.0f, -5.0f, -5.0f, -0.2f}, {-0.1f, -5.0f, -5.0f, -5.0f}};
    const std::vector<Ids> out = {{0}, {1}};
    bs.step(rows(r), {-1.0f, -2.0f}, spans(out), 1);
    const std::vector<Ids> running = {{1, 0}, {0, 0}};
    const std::vector<BeamHypothesis> best = bs.finalize(spans(running), {-2.1f, -6.0f}, 2);
    ASSERT_EQ(best.size(), 2u);
    EXPECT_EQ(best[0].output_ids, (Ids{0, 3}));
    EXPECT_NEAR(best[0].score, -0.3, 1e-6);
    EXPECT_EQ(best[1].output_ids, (Ids{3}));
}

}  // namespace kite
