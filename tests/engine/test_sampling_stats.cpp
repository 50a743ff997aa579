// Sampler, statistical parts: temperature, top-k, top-p and min-p restrict the support and reshape
// the distribution as HF's warpers do. Expected probabilities are worked by hand from a known
// distribution (or by a brute-force full sort in the test); draws are checked with 6-sigma binomial
// bounds, so a correct sampler fails with probability < 1e-8 per token whatever the seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/sampling.h"

namespace kite {
namespace {

// Probabilities 0.4, 0.3, 0.15, 0.1, 0.05 as logits, shifted by 3 (softmax ignores the shift).
const std::vector<double> kBase = {0.4, 0.3, 0.15, 0.1, 0.05};
std::vector<float> base_logits() {
    std::vector<float> v;
    for (double p : kBase) v.push_back(static_cast<float>(std::log(p) + 3.0));
    return v;
}

// `weights` over a prefix or subset, renormalized; tokens with weight 0 must never be drawn.
std::vector<double> normalized(std::vector<double> w) {
    const double s = std::accumulate(w.begin(), w.end(), 0.0);
    for (double& x : w) x /= s;
    return w;
}

std::vector<int> histogram(const std::vector<float>& logits, const SamplingParams& p, int draws, uint64_t seed) {
    std::vector<int> h(logits.size(), 0);
    SamplerRng rng(seed);
    std::vector<float> row;
    for (int i = 0; i < draws; ++i) {
        row = logits;
        const int32_t t = sample_token(row, p, {}, {}, rng).token;
        EXPECT_TRUE(t >= 0 && static_cast<size_t>(t) < logits.size());
        ++h[t];
    }
    return h;
}

// Each count within 6 sigma of its binomial mean; a token of probability 0 never appears.
void expect_frequencies(const std::vector<int>& h, const std::vector<double>& expected, int draws) {
    ASSERT_EQ(h.size(), expected.size());
    for (size_t i = 0; i < h.size(); ++i) {
        if (expected[i] == 0.0) {
            EXPECT_EQ(h[i], 0) << "token " << i << " is outside the allowed set";
            continue;
        }
        const double mean = draws * expected[i];
        const double sigma = std::sqrt(draws * expected[i] * (1.0 - expected[i]));
        EXPECT_LE(std::abs(h[i] - mean), 6.0 * sigma + 1.0)
            << "token " << i << ": " << h[i] << " draws, expected " << mean << " +- " << sigma;
    }
}

// sampling_distribution() must state exactly the probabilities the draws follow.
void expect_distribution(const std::vector<float>& logits, const SamplingParams& p,
                         const std::vector<double>& expected) {
    const auto dist = sampling_distribution(logits, p);
    std::vector<double> got(logits.size(), 0.0);
    for (const auto& [id, prob] : dist) got[id] = prob;
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << "token " << i;
    for (size_t i = 1; i < dist.size(); ++i) EXPECT_GE(dist[i - 1].second, dist[i].second);
}

void check(const SamplingParams& p, const std::vector<double>& expected, uint64_t seed) {
    constexpr int kDraws = 20000;
    const auto logits = base_logits();
    expect_distribution(logits, p, expected);
    expect_frequencies(histogram(logits, p, kDraws, seed), expected, kDraws);
}

SamplingParams params(float temperature) {
    SamplingParams p;
    p.temperature = temperature;
    return p;
}

TEST(SamplingStats, PlainSamplingFollowsSoftmax) { check(params(1.0f), kBase, 1); }

TEST(SamplingStats, TemperatureSharpensAndFlattens) {
    // softmax(log p / T) is proportional to p^(1/T).
    std::vector<double> sq, root;
    for (double p : kBase) {
        sq.push_back(p * p);
        root.push_back(std::sqrt(p));
    }
    check(params(0.5f), normalized(sq), 2);
    check(params(2.0f), normalized(root), 3);
}

TEST(SamplingStats, TopKKeepsTheKBest) {
    SamplingParams p = params(1.0f);
    p.top_k = 2;
    check(p, normalized({0.4, 0.3, 0, 0, 0}), 4);
    p.top_k = 5;  // the whole vocabulary: off
    check(p, kBase, 5);
}

TEST(SamplingStats, TopPKeepsTheSmallestSetReachingP) {
    SamplingParams p = params(1.0f);
    p.top_p = 0.75f;  // cumulative 0.4, 0.7, 0.85: three tokens
    check(p, normalized({0.4, 0.3, 0.15, 0, 0}), 6);
    p.top_p = 0.3f;  // the best token alone already has 0.4
    check(p, normalized({1, 0, 0, 0, 0}), 7);
}

TEST(SamplingStats, MinPKeepsTokensAboveAFractionOfTheBest) {
    SamplingParams p = params(1.0f);
    p.min_p = 0.3f;  // p >= 0.12
    check(p, normalized({0.4, 0.3, 0.15, 0, 0}), 8);
    p.min_p = 0.5f;  // p >= 0.2
    check(p, normalized({0.4, 0.3, 0, 0, 0}), 9);
}

TEST(SamplingStats, TopPIsComputedAfterTopKAndTemperature) {
    SamplingParams p = params(1.0f);
    // Top-3 renormalized: 0.4/0.85 = 0.47, then 0.82 >= 0.8: two tokens. Without top-k first,
    // top_p = 0.8 would keep three (0.4, 0.7, 0.85).
    p.top_k = 3;
    p.top_p = 0.8f;
    check(p, normalized({0.4, 0.3, 0, 0, 0}), 10);
    // T = 2: proportional to sqrt(p) = 0.632, 0.548, 0.387, 0.316, 0.224 (sum 2.107), cumulative
    // 0.30, 0.56, 0.74, 0.89: top_p = 0.8 keeps four. Before temperature it would keep three.
    p = params(2.0f);
    p.top_p = 0.8f;
    std::vector<double> root;
    for (double x : kBase) root.push_back(std::sqrt(x));
    root[4] = 0;
    check(p, normalized(root), 11);
}

TEST(SamplingStats, AllFiltersTogether) {
    SamplingParams p = params(0.5f);  // proportional to p^2: .16 .09 .0225 .01 .0025 (sum .285)
    p.top_k = 4;                      // drops the last: .16 .09 .0225 .01 (sum .2825)
    p.top_p = 0.95f;                  // cumulative .566 .885 .965: three
    p.min_p = 0.1f;                   // p^2 >= .016: the same three
    check(p, normalized({0.16, 0.09, 0.0225, 0, 0}), 12);
    p.min_p = 0.2f;                   // p^2 >= .032: two
    check(p, normalized({0.16, 0.09, 0, 0, 0}), 13);
}

// Large vocabulary: the truncated supports must equal a brute-force full sort, including the
// paths the small cases above never reach (heap vs nth_element top-k, top-p past its first chunk).
struct Ranked {
    std::vector<int32_t> order;  // best first, ties to the lower id
    std::vector<double> prob;    // softmax(logits / T), by token id
};

Ranked rank(const std::vector<float>& logits, double t) {
    Ranked r;
    r.order.resize(logits.size());
    std::iota(r.order.begin(), r.order.end(), 0);
    std::sort(r.order.begin(), r.order.end(), [&](int32_t a, int32_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    const double m = logits[r.order[0]];
    double s = 0;
    for (float x : logits) s += std::exp((x - m) / t);
    for (float x : logits) r.prob.push_back(std::exp((x - m) / t) / s);
    return r;
}

std::vector<float> normal_logits(size_t n, double sd, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, static_cast<float>(sd));
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
}

// The support sampling_distribution reports must be exactly `allowed`, with matching
// renormalized probabilities; and 100 draws never leave it.
void expect_support(const std::vector<float>& logits, const SamplingParams& p, const Ranked& r,
                    const std::vector<int32_t>& allowed) {
    double mass = 0;
    for (int32_t id : allowed) mass += r.prob[id];
    const auto dist = sampling_distribution(logits, p);
    ASSERT_EQ(dist.size(), allowed.size());
    for (size_t i = 0; i < dist.size(); ++i) {
        ASSERT_EQ(dist[i].first, allowed[i]) << "rank " << i;
        ASSERT_NEAR(dist[i].second, r.prob[allowed[i]] / mass, 1e-6 * dist[i].second + 1e-12);
    }
    std::vector<char> ok(logits.size(), 0);
    for (int32_t id : allowed) ok[id] = 1;
    SamplerRng rng(99);
    std::vector<float> row;
    for (int i = 0; i < 100; ++i) {
        row = logits;
        const int32_t t = sample_token(row, p, {}, {}, rng).token;
        ASSERT_TRUE(ok[t]) << "token " << t << " is outside the allowed set";
    }
}

TEST(SamplingStats, LargeVocabularyTopK) {
    const auto logits = normal_logits(50000, 2.0, 31);
    const Ranked r = rank(logits, 1.0);
    for (int k : {1, 50, 1024, 1025, 5000}) {
        SamplingParams p = params(1.0f);
        p.top_k = k;
        expect_support(logits, p, r, std::vector<int32_t>(r.order.begin(), r.order.begin() + k));
    }
}

std::vector<int32_t> nucleus(const Ranked& r, double top_p) {
    std::vector<int32_t> allowed;
    double cum = 0;
    for (int32_t id : r.order) {
        allowed.push_back(id);
        cum += r.prob[id];
        if (cum >= top_p) break;
    }
    return allowed;
}

TEST(SamplingStats, LargeVocabularyTopPAndMinP) {
    const auto logits = normal_logits(50000, 1.0, 32);  // flat: the nucleus is thousands of tokens
    const double t = 0.8;
    const Ranked r = rank(logits, t);
    for (float top_p : {0.01f, 0.3f, 0.9f}) {
        SamplingParams p = params(static_cast<float>(t));
        p.top_p = top_p;
        expect_support(logits, p, r, nucleus(r, top_p));
    }
    SamplingParams p = params(static_cast<float>(t));
    p.min_p = 0.02f;
    p.top_p = 0.999f;  // min-p cuts first: top-p keeps all it left
    std::vector<int32_t> allowed;
    for (int32_t id : r.order)
        if (r.prob[id] >= 0.02 * r.prob[r.order[0]]) allowed.push_back(id);
    expect_support(logits, p, r, allowed);
}

TEST(SamplingStats, TopPWithClusteredAndEqualLogits) {
    // A dense cluster far narrower than one bin of the first pass (the cut must be refined),
    // beside a spread-out tail.
    std::vector<float> logits = normal_logits(30000, 4.0, 33);
    std::mt19937 gen(34);
    std::uniform_real_distribution<float> tiny(0.0f, 1e-3f);
    for (size_t i = 0; i < logits.size(); i += 2) logits[i] = 1.0f + tiny(gen);
    const Ranked r = rank(logits, 1.0);
    for (float top_p : {0.2f, 0.5f, 0.97f}) {
        SamplingParams p = params(1.0f);
        p.top_p = top_p;
        expect_support(logits, p, r, nucleus(r, top_p));
    }
    // All equal: ids alone order the tokens, the lowest ones are kept.
    const std::vector<float> flat(4000, 0.5f);
    SamplingParams p = params(1.0f);
    p.top_p = 0.2501f;
    const Ranked rf = rank(flat, 1.0);
    const std::vector<int32_t> allowed = nucleus(rf, p.top_p);
    ASSERT_EQ(allowed.size(), 1001u);
    EXPECT_EQ(allowed.back(), 1000);
    expect_support(flat, p, rf, allowed);
}

}  // namespace
}  // namespace kite
