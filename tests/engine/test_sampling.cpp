// Sampler, deterministic parts: penalties and logit bias with hand-worked numbers, greedy argmax,
// seeded reproducibility, logprobs against an independent log-softmax, validate() messages.
// The statistical checks of the draw live in test_sampling_stats.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/sampling.h"

namespace kite {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    return p;
}

// Runs sample_token and returns the row it leaves behind (logits after bias and penalties).
std::vector<float> processed(std::vector<float> logits, const SamplingParams& p, std::vector<int32_t> prompt,
                             std::vector<int32_t> output) {
    SamplerRng rng(1);
    sample_token(logits, p, prompt, output, rng);
    return logits;
}

TEST(SamplingPenalties, RepetitionPenaltyDividesPositiveMultipliesNegativeOncePerToken) {
    SamplingParams p = greedy();
    p.repetition_penalty = 2.0f;
    // Token 0 (prompt): 2 / 2 = 1. Token 1 (prompt and twice in output): -1 * 2 = -2, applied once.
    // Token 2 is not in the context. Token 3 (output): 3 / 2 = 1.5. Token 4: 0 stays 0.
    auto row = processed({2.0f, -1.0f, 0.5f, 3.0f, 0.0f}, p, {0, 1, 4}, {1, 1, 3});
    EXPECT_FLOAT_EQ(row[0], 1.0f);
    EXPECT_FLOAT_EQ(row[1], -2.0f);
    EXPECT_FLOAT_EQ(row[2], 0.5f);
    EXPECT_FLOAT_EQ(row[3], 1.5f);
    EXPECT_FLOAT_EQ(row[4], 0.0f);
}

TEST(SamplingPenalties, RepetitionPenaltyBelowOneEncourages) {
    SamplingParams p = greedy();
    p.repetition_penalty = 0.5f;
    auto row = processed({2.0f, -1.0f, 1.0f}, p, {}, {0, 1});
    EXPECT_FLOAT_EQ(row[0], 4.0f);
    EXPECT_FLOAT_EQ(row[1], -0.5f);
    EXPECT_FLOAT_EQ(row[2], 1.0f);
}

TEST(SamplingPenalties, PresenceAndFrequencyCountOutputTokensOnly) {
    SamplingParams p = greedy();
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    // Token 2 three times: 1 - 3 * 0.5 - 0.25 = -0.75. Token 0 once: 1 - 0.5 - 0.25 = 0.25.
    // Token 1 is only in the prompt: untouched.
    auto row = processed({1.0f, 1.0f, 1.0f, 1.0f}, p, {1, 1}, {2, 2, 0, 2});
    EXPECT_FLOAT_EQ(row[0], 0.25f);
    EXPECT_FLOAT_EQ(row[1], 1.0f);
    EXPECT_FLOAT_EQ(row[2], -0.75f);
    EXPECT_FLOAT_EQ(row[3], 1.0f);
}

TEST(SamplingPenalties, NegativePresenceAndFrequencyEncourage) {
    SamplingParams p = greedy();
    p.frequency_penalty = -1.0f;
    p.presence_penalty = -2.0f;
    auto row = processed({0.0f, 0.0f}, p, {}, {1, 1});
    EXPECT_FLOAT_EQ(row[0], 0.0f);
    EXPECT_FLOAT_EQ(row[1], 4.0f);  // 0 + 2 * 1 + 2
}

TEST(SamplingPenalties, LogitBiasAddsToRawLogits) {
    SamplingParams p = greedy();
    p.logit_bias = {{2, 5.0f}, {0, -100.0f}};
    auto row = processed({0.5f, 0.0f, -1.0f}, p, {}, {});
    EXPECT_FLOAT_EQ(row[0], -99.5f);
    EXPECT_FLOAT_EQ(row[1], 0.0f);
    EXPECT_FLOAT_EQ(row[2], 4.0f);
}

TEST(SamplingPenalties, OrderIsBiasThenRepetitionThenPresenceFrequency) {
    SamplingParams p = greedy();
    p.logit_bias = {{0, 1.0f}};
    p.repetition_penalty = 2.0f;
    p.presence_penalty = 1.0f;
    p.frequency_penalty = 0.5f;
    // Token 0: (3 + 1) / 2 - 0.5 * 1 - 1 = 0.5. Other orders give 1.0 (bias after repetition) or
    // 1.25 (presence/frequency before repetition).
    auto row = processed({3.0f, 0.0f}, p, {}, {0});
    EXPECT_FLOAT_EQ(row[0], 0.5f);
}

TEST(SamplingPenalties, OutOfVocabularyContextIdsAreIgnored) {
    SamplingParams p = greedy();
    p.repetition_penalty = 2.0f;
    p.frequency_penalty = 1.0f;
    auto row = processed({2.0f, 2.0f}, p, {-1, 7}, {5, -3, 1});
    EXPECT_FLOAT_EQ(row[0], 2.0f);
    EXPECT_FLOAT_EQ(row[1], 0.0f);  // 2 / 2 - 1
}

TEST(SamplingPenalties, PenaltyChangesTheGreedyChoice) {
    SamplingParams p = greedy();
    p.frequency_penalty = 2.0f;
    std::vector<float> logits = {5.0f, 4.0f};
    std::vector<int32_t> output = {0};
    SamplerRng rng(0);
    EXPECT_EQ(sample_token(logits, p, {}, output, rng).token, 1);  // 5 - 2 = 3 < 4
}

TEST(SamplingGreedy, ArgmaxWithTiesToLowestId) {
    SamplerRng rng(0);
    std::vector<float> logits = {1.0f, 5.0f, 5.0f, 2.0f};
    EXPECT_EQ(sample_token(logits, greedy(), {}, {}, rng).token, 1);
    std::vector<float> with_nan = {1.0f, std::nanf(""), 3.0f, -kInf};
    EXPECT_EQ(sample_token(with_nan, greedy(), {}, {}, rng).token, 2);
    std::vector<float> negative = {-7.0f, -3.0f, -3.0f};
    EXPECT_EQ(sample_token(negative, greedy(), {}, {}, rng).token, 1);
}

TEST(SamplingGreedy, TopKOneIsGreedyUnderAnyTemperature) {
    SamplingParams p;
    p.temperature = 5.0f;
    p.top_k = 1;
    SamplerRng rng(3);
    for (int i = 0; i < 100; ++i) {
        std::vector<float> logits = {0.0f, 0.1f, 2.0f, 1.9f};
        EXPECT_EQ(sample_token(logits, p, {}, {}, rng).token, 2);
    }
}

TEST(SamplingGreedy, TopKTiesKeepTheLowestIds) {
    SamplingParams p;
    p.top_k = 2;
    const std::vector<float> small = {0.0f, 1.0f, 1.0f, 0.5f, 1.0f, 1.0f};
    auto dist = sampling_distribution(small, p);
    ASSERT_EQ(dist.size(), 2u);
    EXPECT_EQ(dist[0].first, 1);
    EXPECT_EQ(dist[1].first, 2);
    p.top_k = 1500;  // past the heap: the nth_element path
    const std::vector<float> flat(3000, 0.25f);
    dist = sampling_distribution(flat, p);
    ASSERT_EQ(dist.size(), 1500u);
    for (size_t i = 0; i < dist.size(); ++i) ASSERT_EQ(dist[i].first, static_cast<int32_t>(i));
}

TEST(SamplingGreedy, MaskedTokensAreNeverDrawn) {
    SamplingParams p;
    p.temperature = 1.0f;
    SamplerRng rng(5);
    for (int i = 0; i < 500; ++i) {
        std::vector<float> logits = {-kInf, 0.0f, std::nanf(""), 0.0f, -kInf};
        const int32_t t = sample_token(logits, p, {}, {}, rng).token;
        EXPECT_TRUE(t == 1 || t == 3) << t;
    }
}

std::vector<float> random_logits(size_t n, uint32_t seed, float scale) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
}

std::vector<int32_t> draw_sequence(std::optional<uint64_t> seed, const SamplingParams& p, int n) {
    const std::vector<float> logits = random_logits(1000, 11, 3.0f);
    SamplerRng rng(seed);
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
        std::vector<float> row = logits;
        out.push_back(sample_token(row, p, {}, out, rng).token);
    }
    return out;
}

TEST(SamplingSeed, SameSeedSameSequenceDifferentSeedDifferent) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_p = 0.95f;
    p.top_k = 200;
    p.frequency_penalty = 0.1f;
    const auto a = draw_sequence(42, p, 200);
    EXPECT_EQ(a, draw_sequence(42, p, 200));
    EXPECT_NE(a, draw_sequence(43, p, 200));
    // Unseeded generators are seeded from an entropy source: two of them disagree.
    EXPECT_NE(draw_sequence(std::nullopt, p, 200), draw_sequence(std::nullopt, p, 200));
}

TEST(SamplingSeed, UniformStaysInUnitInterval) {
    SamplerRng a(9), b(9);
    for (int i = 0; i < 10000; ++i) {
        const double u = a.uniform();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        ASSERT_EQ(u, b.uniform());
    }
}

// Independent reference: log-softmax in long double, straight from the definition.
std::vector<double> reference_log_softmax(const std::vector<float>& x) {
    long double m = -INFINITY;
    for (float v : x) m = std::max<long double>(m, v);
    long double s = 0;
    for (float v : x) s += std::exp(static_cast<long double>(v) - m);
    std::vector<double> out;
    for (float v : x) out.push_back(static_cast<double>(v - m - std::log(s)));
    return out;
}

TEST(SamplingLogprobs, SampledAndTopNMatchLogSoftmaxOfRawLogits) {
    const std::vector<float> logits = random_logits(5000, 21, 8.0f);
    const auto ref = reference_log_softmax(logits);
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return ref[a] > ref[b]; });

    SamplingParams p;
    p.temperature = 0.7f;
    p.logprobs = 5;
    p.repetition_penalty = 1.5f;  // penalties and bias must not leak into the logprobs
    p.logit_bias = {{order[0], -50.0f}};
    SamplerRng rng(7);
    std::vector<int32_t> prompt = {order[1], order[2]};
    for (int i = 0; i < 20; ++i) {
        std::vector<float> row = logits;
        const TokenLogprob lp = sample_token(row, p, prompt, {}, rng);
        EXPECT_NEAR(lp.logprob, ref[lp.token], 1e-5);
        ASSERT_EQ(lp.top.size(), 5u);
        for (size_t j = 0; j < 5; ++j) {
            EXPECT_EQ(lp.top[j].first, order[j]);
            EXPECT_NEAR(lp.top[j].second, ref[order[j]], 1e-5);
        }
    }
}

TEST(SamplingLogprobs, ZeroGivesOnlyTheSampledTokenAndNegativeGivesNone) {
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
    SamplingParams p = greedy();
    p.logprobs = 0;
    SamplerRng rng(0);
    std::vector<float> row = logits;
    TokenLogprob lp = sample_token(row, p, {}, {}, rng);
    EXPECT_EQ(lp.token, 2);
    EXPECT_TRUE(lp.top.empty());
    // log(e^3 / (e + e^2 + e^3)) = -log(1 + e^-1 + e^-2)
    EXPECT_NEAR(lp.logprob, -std::log(1.0 + std::exp(-1.0) + std::exp(-2.0)), 1e-6);
    p.logprobs = 20;  // more than the vocabulary: all of it, best first
    row = logits;
    lp = sample_token(row, p, {}, {}, rng);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_EQ(lp.top[0].first, 2);
    EXPECT_EQ(lp.top[2].first, 0);
}

TEST(SamplingLogprobs, LogSoftmaxIsStableForHugeAndMaskedLogits) {
    std::vector<float> row = {1.0e4f, 1.0e4f - 1.0f, -kInf, 1.0e4f - 2.0f};
    log_softmax_inplace(row);
    const double l = std::log(1.0 + std::exp(-1.0) + std::exp(-2.0));
    EXPECT_NEAR(row[0], -l, 1e-6);
    EXPECT_NEAR(row[1], -1.0 - l, 1e-6);
    EXPECT_EQ(row[2], -kInf);
    EXPECT_NEAR(row[3], -2.0 - l, 1e-6);

    std::vector<float> tiny = {-1.0e4f, -1.0e4f};
    log_softmax_inplace(tiny);
    EXPECT_NEAR(tiny[0], -std::log(2.0), 1e-6);

    const std::vector<float> big = random_logits(150000, 5, 20.0f);
    const auto ref = reference_log_softmax(big);
    std::vector<float> got = big;
    log_softmax_inplace(got);
    double sum = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], ref[i], 1e-4) << i;
        sum += std::exp(static_cast<double>(got[i]));
    }
    EXPECT_NEAR(sum, 1.0, 1e-4);
}

void expect_invalid(const SamplingParams& p, const std::string& field) {
    const Status st = p.validate(100);
    ASSERT_FALSE(st.is_ok()) << field;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(field), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
}

TEST(SamplingValidate, DefaultsAndBoundariesAreValid) {
    SamplingParams p;
    EXPECT_TRUE(p.validate(100).is_ok());
    p.temperature = 0.0f;
    p.top_p = 1.0f;
    p.top_k = -1;
    p.min_p = 1.0f;
    p.presence_penalty = -2.0f;
    p.frequency_penalty = 2.0f;
    p.logit_bias = {{0, -100.0f}, {99, 100.0f}};
    p.logprobs = 20;
    EXPECT_TRUE(p.validate(100).is_ok()) << p.validate(100).message();
}

TEST(SamplingValidate, EachBadFieldIsNamed) {
    auto with = [](auto set) {
        SamplingParams p;
        set(p);
        return p;
    };
    expect_invalid(with([](SamplingParams& p) { p.temperature = -0.5f; }), "temperature = -0.5");
    expect_invalid(with([](SamplingParams& p) { p.temperature = std::nanf(""); }), "temperature");
    expect_invalid(with([](SamplingParams& p) { p.temperature = kInf; }), "temperature");
    expect_invalid(with([](SamplingParams& p) { p.top_p = 0.0f; }), "top_p = 0");
    expect_invalid(with([](SamplingParams& p) { p.top_p = 1.5f; }), "top_p = 1.5");
    expect_invalid(with([](SamplingParams& p) { p.top_p = std::nanf(""); }), "top_p");
    expect_invalid(with([](SamplingParams& p) { p.top_k = -2; }), "top_k = -2");
    expect_invalid(with([](SamplingParams& p) { p.min_p = -0.1f; }), "min_p = -0.1");
    expect_invalid(with([](SamplingParams& p) { p.min_p = 1.1f; }), "min_p = 1.1");
    expect_invalid(with([](SamplingParams& p) { p.repetition_penalty = 0.0f; }), "repetition_penalty = 0");
    expect_invalid(with([](SamplingParams& p) { p.repetition_penalty = -1.0f; }), "repetition_penalty");
    expect_invalid(with([](SamplingParams& p) { p.presence_penalty = 2.5f; }), "presence_penalty = 2.5");
    expect_invalid(with([](SamplingParams& p) { p.frequency_penalty = -3.0f; }), "frequency_penalty = -3");
    expect_invalid(with([](SamplingParams& p) { p.logit_bias = {{100, 1.0f}}; }), "logit_bias: token id 100");
    expect_invalid(with([](SamplingParams& p) { p.logit_bias = {{-1, 1.0f}}; }), "logit_bias: token id -1");
    expect_invalid(with([](SamplingParams& p) { p.logit_bias = {{3, 101.0f}}; }), "logit_bias: value 101");
    expect_invalid(with([](SamplingParams& p) { p.logit_bias = {{3, std::nanf("")}}; }), "logit_bias");
    expect_invalid(with([](SamplingParams& p) { p.logprobs = 21; }), "logprobs = 21");
    expect_invalid(with([](SamplingParams& p) { p.logprobs = -2; }), "logprobs = -2");
}

}  // namespace
}  // namespace kite
