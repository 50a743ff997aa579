// Speculative decoding's pieces: prompt-lookup drafts, greedy verification, and rejection sampling
// whose output must have the target's distribution (checked against softmax computed here, by
// chi-square with a tail far beyond chance, never by timing).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "engine/drafter.h"
#include "engine/spec_decode.h"

namespace kite {
namespace {

std::vector<int32_t> propose(int n, const std::vector<int32_t>& tokens, int k) {
    NgramDrafter d(n);
    return d.propose({1, tokens}, k);
}

TEST(NgramDrafter, ProposesWhatFollowedTheLastEarlierOccurrence) {
    // "5 6" occurs at 1 (followed by 7 8 9) and at 5 (followed by 1 2): the later one wins.
    const std::vector<int32_t> t = {4, 5, 6, 7, 8, 9, 5, 6, 1, 2, 3, 5, 6};
    EXPECT_EQ(propose(2, t, 2), (std::vector<int32_t>{1, 2}));
    EXPECT_EQ(propose(2, t, 10), (std::vector<int32_t>{1, 2, 3, 5, 6}));  // up to the end
    EXPECT_EQ(propose(3, t, 4), (std::vector<int32_t>{}));                 // "3 5 6" never seen before
    EXPECT_EQ(propose(1, {1, 2, 3}, 4), (std::vector<int32_t>{}));
    EXPECT_EQ(propose(1, {7, 7}, 3), (std::vector<int32_t>{7}));
    EXPECT_EQ(propose(2, {1, 2}, 3), (std::vector<int32_t>{}));  // nothing before the suffix
    EXPECT_EQ(propose(2, t, 0), (std::vector<int32_t>{}));
}

// Rows of logits for a vocabulary of `v`, row r favouring token best[r].
std::vector<float> rows_favouring(const std::vector<int32_t>& best, size_t v) {
    std::vector<float> rows(best.size() * v, 0.0f);
    for (size_t r = 0; r < best.size(); ++r) rows[r * v + size_t(best[r])] = 5.0f;
    return rows;
}

TEST(VerifyDrafts, GreedyAcceptsTheMatchingPrefixThenTheTargetsToken) {
    SamplingParams greedy;
    greedy.temperature = 0.0f;
    SamplerRng rng(1);
    const size_t v = 8;
    std::vector<float> rows = rows_favouring({3, 4, 6, 1}, v);  // target: 3, 4, 6, then 1
    Verification all = verify_drafts(rows, v, std::vector<int32_t>{3, 4, 6}, greedy, {}, {}, rng);
    EXPECT_EQ(all.num_accepted, 3);
    ASSERT_EQ(all.tokens.size(), 4u);
    EXPECT_EQ(all.tokens[3].token, 1);

    rows = rows_favouring({3, 4, 6, 1}, v);
    Verification some = verify_drafts(rows, v, std::vector<int32_t>{3, 5, 6}, greedy, {}, {}, rng);
    EXPECT_EQ(some.num_accepted, 1);
    ASSERT_EQ(some.tokens.size(), 2u);
    EXPECT_EQ(some.tokens[0].token, 3);
    EXPECT_EQ(some.tokens[1].token, 4);  // the target's token where the draft said 5

    rows = rows_favouring({3, 4, 6, 1}, v);
    Verification none = verify_drafts(rows, v, std::vector<int32_t>{2, 4, 6}, greedy, {}, {}, rng);
    EXPECT_EQ(none.num_accepted, 0);
    ASSERT_EQ(none.tokens.size(), 1u);
    EXPECT_EQ(none.tokens[0].token, 3);
}

TEST(VerifyDrafts, GreedyPenaltiesSeeAcceptedDraftsAsOutput) {
    // Row 1 favours 4 slightly over 2; a repetition penalty on the accepted draft 4 flips it.
    SamplingParams p;
    p.temperature = 0.0f;
    p.repetition_penalty = 2.0f;
    SamplerRng rng(1);
    const size_t v = 6;
    std::vector<float> rows(2 * v, 0.0f);
    rows[4] = 3.0f;                       // row 0: 4
    rows[v + 4] = 1.0f, rows[v + 2] = 0.8f;  // row 1: 4 (1.0) before the penalty, 0.5 after
    Verification r = verify_drafts(rows, v, std::vector<int32_t>{4}, p, {}, {}, rng);
    ASSERT_EQ(r.tokens.size(), 2u);
    EXPECT_EQ(r.num_accepted, 1);
    EXPECT_EQ(r.tokens[1].token, 2);
}

// Independent of kite's sampler: softmax(logits / T) restricted to the top_k largest.
std::vector<double> target_probs(const std::vector<float>& logits, float t, int top_k) {
    std::vector<double> p(logits.size(), 0.0);
    std::vector<float> sorted = logits;
    std::sort(sorted.rbegin(), sorted.rend());
    const float cut = top_k > 0 ? sorted[size_t(top_k - 1)] : -1e30f;
    double z = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        if (logits[i] < cut) continue;
        p[i] = std::exp(double(logits[i]) / t);
        z += p[i];
    }
    for (double& x : p) x /= z;
    return p;
}

// Pearson chi-square of counts against probabilities (cells with p = 0 must stay empty).
double chi_square(const std::vector<int>& counts, const std::vector<double>& p, int n, int* dof) {
    double x = 0;
    *dof = -1;
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == 0) {
            EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
            continue;
        }
        const double e = p[i] * n;
        x += (counts[i] - e) * (counts[i] - e) / e;
        ++*dof;
    }
    return x;
}

// A chi-square bound no honest sample crosses: mean + 6 standard deviations (dof + 6 sqrt(2 dof)).
double bound(int dof) { return dof + 6.0 * std::sqrt(2.0 * dof) + 10.0; }

TEST(VerifyDrafts, RejectionSamplingKeepsTheTargetDistributionForEveryDraft) {
    const std::vector<float> logits = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, -1.5f};
    for (int top_k : {0, 4}) {
        SamplingParams p;
        p.temperature = 0.8f;
        p.top_k = top_k;
        const std::vector<double> want = target_probs(logits, p.temperature, top_k);
        for (int32_t draft = 0; draft < 6; ++draft) {  // likely, unlikely and (top-k) impossible drafts
            SamplerRng rng(1000 + draft + 7 * top_k);
            const int n = 60000;
            std::vector<int> counts(6, 0);
            int accepted = 0;
            for (int i = 0; i < n; ++i) {
                std::vector<float> rows = logits;
                rows.insert(rows.end(), logits.begin(), logits.end());
                Verification v = verify_drafts(rows, 6, std::vector<int32_t>{draft}, p, {}, {}, rng);
                ++counts[size_t(v.tokens[0].token)];
                accepted += v.num_accepted;
                ASSERT_EQ(v.tokens.size(), size_t(v.num_accepted + 1));
            }
            int dof = 0;
            const double x = chi_square(counts, want, n, &dof);
            EXPECT_LT(x, bound(dof)) << "draft " << draft << " top_k " << top_k;
            // Acceptance happens exactly with the draft's target probability.
            const double sd = std::sqrt(want[size_t(draft)] * (1 - want[size_t(draft)]) / n);
            EXPECT_NEAR(double(accepted) / n, want[size_t(draft)], 6 * sd + 1e-9) << "draft " << draft;
        }
    }
}

TEST(VerifyDrafts, ChainOfDraftsKeepsTheJointDistribution) {
    // Two drafts over rows with different distributions: the pair (first token, second token if
    // the first draft was accepted) must follow p0(a) * p1(b | a == d0), as plain sampling would.
    const size_t v = 4;
    const std::vector<float> l0 = {0.5f, 1.5f, 0.0f, -0.3f}, l1 = {1.0f, -1.0f, 0.7f, 0.2f};
    SamplingParams p;
    p.temperature = 1.0f;
    const std::vector<double> p0 = target_probs(l0, 1.0f, 0), p1 = target_probs(l1, 1.0f, 0);
    const std::vector<int32_t> draft = {1, 0};
    SamplerRng rng(77);
    const int n = 80000;
    std::vector<int> counts(v + v, 0);  // cells: first token a != d0 (a), or (d0, b) -> v + b
    for (int i = 0; i < n; ++i) {
        std::vector<float> rows = l0;
        rows.insert(rows.end(), l1.begin(), l1.end());
        rows.insert(rows.end(), l0.begin(), l0.end());  // row after both drafts (any distribution)
        Verification r = verify_drafts(rows, v, draft, p, {}, {}, rng);
        if (r.tokens[0].token != draft[0]) {
            ASSERT_EQ(r.tokens.size(), 1u);
            ++counts[size_t(r.tokens[0].token)];
        } else {
            ASSERT_GE(r.tokens.size(), 2u);
            ++counts[v + size_t(r.tokens[1].token)];
        }
    }
    std::vector<double> want(2 * v, 0.0);
    for (size_t a = 0; a < v; ++a)
        if (int32_t(a) != draft[0]) want[a] = p0[a];
    for (size_t b = 0; b < v; ++b) want[v + b] = p0[size_t(draft[0])] * p1[b];
    int dof = 0;
    const double x = chi_square(counts, want, n, &dof);
    EXPECT_LT(x, bound(dof));
}

TEST(VerifyDrafts, LogprobsAreOfTheRawLogitsForAcceptedAndResampledTokens) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.logprobs = 2;
    const std::vector<float> l = {0.0f, 1.0f, 2.0f};
    const double z = std::log(std::exp(0.0) + std::exp(1.0) + std::exp(2.0));
    SamplerRng rng(5);
    for (int i = 0; i < 50; ++i) {
        std::vector<float> rows = l;
        rows.insert(rows.end(), l.begin(), l.end());
        Verification r = verify_drafts(rows, 3, std::vector<int32_t>{1}, p, {}, {}, rng);
        for (const TokenLogprob& t : r.tokens) {
            EXPECT_NEAR(t.logprob, l[size_t(t.token)] - z, 1e-5);
            ASSERT_EQ(t.top.size(), 2u);
            EXPECT_EQ(t.top[0].first, 2);
            EXPECT_EQ(t.top[1].first, 1);
        }
    }
}

}  // namespace
}  // namespace kite
