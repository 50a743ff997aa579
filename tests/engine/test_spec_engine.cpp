// Speculative decoding through the engine must not change greedy output: every stories260K case
// and every shared reference checkpoint gives transformers' greedy ids with prompt-lookup drafts
// on, batched with sampled, parallel-sample and beam requests (which do not speculate or whose
// drafts are rejected), with stop strings and max tokens ending a sequence inside an accepted run,
// with a KV pool so small that requests are preempted, and with prefix-cache hits on blocks
// written by verified drafts. Expected ids come from transformers (shared/), never from kite.
#include <gtest/gtest.h>

#include "engine_test_util.h"
#include "engine/draft_model_drafter.h"
#include "io/safetensors.h"

namespace kite {
namespace {

using testing::Collector;
using testing::greedy_request;
using testing::read_json;
using testing::stories_dir;
using testing::stories_model;
using testing::stories_tokenizer;

using Case = testing::StoriesCase;
using testing::stories_cases;

EngineConfig spec_config(int ngram, int k) {
    EngineConfig c;
    c.num_kv_blocks = 256;
    c.speculative_ngram = ngram;
    c.num_speculative_tokens = k;
    return c;
}

std::unique_ptr<Engine> make_engine(std::shared_ptr<Model> model, std::shared_ptr<const Tokenizer> tok,
                                    const EngineConfig& c) {
    auto e = Engine::create(std::move(model), std::move(tok), c);
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(*e) : nullptr;
}

std::vector<int32_t> head(const std::vector<int32_t>& v, size_t n) { return {v.begin(), v.begin() + long(n)}; }

// Runs every stories case greedily (twice each: the second run hits the prefix cache) beside
// non-greedy company, and checks the greedy ids; returns the engine's stats.
EngineStats run_stories(const EngineConfig& config, int max_new) {
    const auto cases = stories_cases();
    auto engine = make_engine(stories_model(), stories_tokenizer(), config);
    if (!engine) return {};
    Collector col;
    int expected = 0;
    for (int round = 0; round < 2; ++round) {
        for (size_t i = 0; i < cases.size(); ++i) {
            const std::string id = "c" + std::to_string(i) + "r" + std::to_string(round);
            EXPECT_TRUE(engine->add_request(greedy_request(id, cases[i].prompt_ids, max_new), col.callback()).is_ok());
            ++expected;
        }
        GenerationRequest sampled = greedy_request("sampled" + std::to_string(round), cases[0].prompt_ids, 30);
        sampled.sampling.temperature = 0.9f;
        sampled.sampling.seed = 3;
        sampled.n = 2;
        GenerationRequest beams = greedy_request("beams" + std::to_string(round), cases[1].prompt_ids, 12);
        beams.num_beams = 3;
        EXPECT_TRUE(engine->add_request(sampled, col.callback()).is_ok());
        EXPECT_TRUE(engine->add_request(beams, col.callback()).is_ok());
        expected += 3;
        EXPECT_TRUE(col.wait(expected));
    }
    auto res = col.results();
    for (int round = 0; round < 2; ++round) {
        for (size_t i = 0; i < cases.size(); ++i) {
            const auto& r = res["c" + std::to_string(i) + "r" + std::to_string(round)][0];
            EXPECT_EQ(r.ids, head(cases[i].greedy_ids, size_t(max_new))) << "case " << i << " round " << round;
            EXPECT_EQ(r.reason, FinishReason::kLength);
        }
        EXPECT_EQ(res["sampled" + std::to_string(round)].size(), 2u);
        for (const auto& s : res["sampled" + std::to_string(round)]) EXPECT_EQ(s.ids.size(), 30u);
    }
    engine->shutdown(true);
    const EngineStats s = engine->stats();
    EXPECT_EQ(s.num_free_kv_blocks, s.num_kv_blocks);
    return s;
}

TEST(SpecEngine, GreedyStoriesEqualTransformersWithNgramDrafts) {
    for (auto [ngram, k] : {std::pair{2, 4}, std::pair{1, 8}, std::pair{3, 1}}) {
        SCOPED_TRACE("ngram " + std::to_string(ngram) + " k " + std::to_string(k));
        const EngineStats s = run_stories(spec_config(ngram, k), 60);
        // Not vacuous: drafts were verified, some accepted and some rejected (rolled back).
        EXPECT_GT(s.spec_num_draft_tokens, 0);
        EXPECT_GT(s.spec_num_accepted_tokens, 0);
        EXPECT_LT(s.spec_num_accepted_tokens, s.spec_num_draft_tokens);
    }
}

TEST(SpecEngine, PreemptionWithATinyKvPoolKeepsGreedyOutput) {
    for (PreemptionMode mode : {PreemptionMode::kRecompute, PreemptionMode::kSwap}) {
        EngineConfig c = spec_config(2, 6);
        c.block_size = 4;
        c.num_kv_blocks = 48;  // a few sequences' worth: preemption is certain
        c.preemption_mode = mode;
        const EngineStats s = run_stories(c, 60);
        EXPECT_GT(s.num_preemptions, 0);
        EXPECT_GT(s.spec_num_accepted_tokens, 0);
    }
}

TEST(SpecEngine, TokenBudgetSmallerThanTheDraftsStillMatches) {
    EngineConfig c = spec_config(2, 8);
    c.max_num_batched_tokens = 5;  // drafts are cut to the budget; prompts are chunked
    const EngineStats s = run_stories(c, 40);
    EXPECT_GT(s.spec_num_accepted_tokens, 0);
}

TEST(SpecEngine, MaxTokensAndStopStringsInsideAcceptedRuns) {
    const Case c = stories_cases()[0];
    auto engine = make_engine(stories_model(), stories_tokenizer(), spec_config(1, 8));
    Collector col;
    int n = 0;
    for (int max_new = 1; max_new <= 45; ++max_new) {
        ASSERT_TRUE(engine->add_request(greedy_request("m" + std::to_string(max_new), c.prompt_ids, max_new),
                                        col.callback()).is_ok());
        ++n;
    }
    // Stop strings: words of transformers' text, cut exactly where they first occur.
    const std::vector<std::string> stops = {"Lily", "dragon", "the", "was", "and", "happy", ". "};
    for (size_t i = 0; i < stops.size(); ++i) {
        GenerationRequest r = greedy_request("s" + std::to_string(i), c.prompt_ids, 60);
        r.stop = {stops[i]};
        ASSERT_TRUE(engine->add_request(r, col.callback()).is_ok());
        ++n;
    }
    ASSERT_TRUE(col.wait(n));
    auto res = col.results();
    for (int max_new = 1; max_new <= 45; ++max_new) {
        const auto& r = res["m" + std::to_string(max_new)][0];
        EXPECT_EQ(r.ids, head(c.greedy_ids, size_t(max_new))) << max_new;
        EXPECT_EQ(r.reason, FinishReason::kLength);
        EXPECT_EQ(r.text, c.greedy_text.substr(0, r.text.size()));
    }
    int num_stopped = 0;
    for (size_t i = 0; i < stops.size(); ++i) {
        const auto& r = res["s" + std::to_string(i)][0];
        const size_t cut = c.greedy_text.find(stops[i]);
        if (r.reason == FinishReason::kLength) {  // the stop string lies beyond 60 tokens
            EXPECT_EQ(r.text, c.greedy_text.substr(0, r.text.size())) << stops[i];
            EXPECT_TRUE(cut == std::string::npos || cut + stops[i].size() > r.text.size()) << stops[i];
            continue;
        }
        ++num_stopped;
        EXPECT_EQ(r.text, c.greedy_text.substr(0, cut)) << stops[i];
        EXPECT_EQ(r.reason, FinishReason::kStop) << stops[i];
        EXPECT_EQ(r.stop_reason, stops[i]);
    }
    EXPECT_GE(num_stopped, 4);
    engine->shutdown(true);
    EXPECT_GT(engine->stats().spec_num_accepted_tokens, 0);
}

TEST(SpecEngine, MaxModelLenEndsInsideADraftedRun) {
    const Case c = stories_cases()[0];
    EngineConfig cfg = spec_config(1, 8);
    cfg.max_model_len = int(c.prompt_ids.size()) + 17;
    auto engine = make_engine(stories_model(), stories_tokenizer(), cfg);
    Collector col;
    ASSERT_TRUE(engine->add_request(greedy_request("x", c.prompt_ids, 100), col.callback()).is_ok());
    ASSERT_TRUE(col.wait(1));
    const auto r = col.results()["x"][0];
    EXPECT_EQ(r.ids, head(c.greedy_ids, 17));
    EXPECT_EQ(r.reason, FinishReason::kLength);
}

std::vector<int32_t> ids_of(const Tensor& t) {
    std::vector<int32_t> v;
    for (int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<int32_t>(t.data<int64_t>()[i]));
    return v;
}

class SpecReference : public ::testing::TestWithParam<std::string> {};

TEST_P(SpecReference, GreedyEqualsTransformersWithDrafts) {
    const std::string dir = std::string(KITE_SHARED_DIR) + "/reference/" + GetParam();
    auto model = load_model(dir);
    ASSERT_TRUE(model.ok()) << model.status().message();
    auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    std::shared_ptr<Model> m(std::move(*model));
    // Random weights rarely repeat themselves: 1-gram drafts with a long lookahead still make
    // drafts every few steps, mostly rejected, which is what this checks (the rollback).
    EngineConfig cfg = spec_config(1, 4);
    cfg.block_size = 8;
    auto engine = make_engine(m, nullptr, cfg);
    ASSERT_TRUE(engine);
    Collector col;
    std::vector<std::vector<int32_t>> want;
    for (int p = 0; p < 4; ++p) {
        const std::string key = "prompt" + std::to_string(p);
        auto ids = (*ref)->get(key + ".ids");
        auto greedy = (*ref)->get(key + ".greedy");
        ASSERT_TRUE(ids.ok() && greedy.ok());
        want.push_back(ids_of(*greedy));
        GenerationRequest r = greedy_request("p" + std::to_string(p), ids_of(*ids), int(want.back().size()));
        r.ignore_eos = true;  // the reference continues through EOS
        r.stream_text = false;
        ASSERT_TRUE(engine->add_request(r, col.callback()).is_ok());
    }
    ASSERT_TRUE(col.wait(4));
    auto res = col.results();
    for (int p = 0; p < 4; ++p) EXPECT_EQ(res["p" + std::to_string(p)][0].ids, want[size_t(p)]) << "prompt " << p;
    engine->shutdown(true);
    EXPECT_GT(engine->stats().spec_num_draft_tokens, 0);
}

INSTANTIATE_TEST_SUITE_P(Shared, SpecReference,
                         ::testing::Values("llama", "llama-rope-linear", "llama-rope-yarn", "llama3-rope-tied", "mistral",
                                           "qwen2", "qwen3"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& ch : n)
                                 if (ch == '-') ch = '_';
                             return n;
                         });

TEST(SpecEngine, DraftModelKeepsGreedyOutputAndAgreesWithItself) {
    // The target as its own draft model: its greedy drafts are what the target picks, so nearly
    // every draft is accepted (and the output is still checked against transformers).
    EngineConfig c = spec_config(0, 4);
    c.speculative_model = stories_dir();
    const EngineStats s = run_stories(c, 60);
    EXPECT_GT(s.spec_num_draft_tokens, 100);
    EXPECT_GT(s.spec_num_accepted_tokens, s.spec_num_draft_tokens * 8 / 10);
}

TEST(SpecEngine, UnrelatedDraftModelIsMostlyRejectedAndChangesNothing) {
    // A random-weight model with the same vocabulary size drafts nonsense: both K/V caches roll
    // back nearly every step.
    EngineConfig c = spec_config(0, 3);
    c.speculative_model = std::string(KITE_SHARED_DIR) + "/reference/qwen3";
    const EngineStats s = run_stories(c, 40);
    EXPECT_GT(s.spec_num_draft_tokens, 100);
    EXPECT_LT(s.spec_num_accepted_tokens, s.spec_num_draft_tokens / 2);
}

TEST(SpecEngine, DraftModelUnderPreemptionAndASmallBudget) {
    EngineConfig c = spec_config(0, 5);
    c.speculative_model = stories_dir();
    c.block_size = 4;
    c.num_kv_blocks = 36;
    c.max_num_batched_tokens = 24;  // drafts are cut to the budget left
    const EngineStats s = run_stories(c, 50);
    EXPECT_GT(s.num_preemptions, 0);
    EXPECT_GT(s.spec_num_accepted_tokens, 0);
}

TEST(SpecEngine, BadSpeculativeConfigsAreRefusedWithTheFlagName) {
    EngineConfig c;
    c.num_kv_blocks = 16;
    c.num_speculative_tokens = 4;
    auto e = Engine::create(stories_model(), stories_tokenizer(), c);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("--speculative-ngram"), std::string::npos);
    c.num_speculative_tokens = 0;
    c.speculative_ngram = 2;
    e = Engine::create(stories_model(), stories_tokenizer(), c);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("--num-speculative-tokens"), std::string::npos);
    c.num_speculative_tokens = 2;
    c.speculative_ngram = 0;
    c.speculative_model = "/nope";
    e = Engine::create(stories_model(), stories_tokenizer(), c);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("--speculative-model"), std::string::npos);
    // Another tokenizer: the vocabularies differ.
    auto d = DraftModelDrafter::create(stories_model(), stories_model()->config().vocab_size + 1, 8, 4);
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.status().message().find("vocabulary"), std::string::npos) << d.status().message();
    c.speculative_model = stories_dir();
    c.speculative_ngram = 2;
    e = Engine::create(stories_model(), stories_tokenizer(), c);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("at most one"), std::string::npos);
}

}  // namespace
}  // namespace kite

namespace kite {
namespace {

// Sampled requests verify drafts by rejection sampling: at a low temperature the target is nearly
// greedy, so drafts the greedy run accepts are accepted about as often.
TEST(SpecEngine, SampledRequestsAcceptDraftsAtLowTemperature) {
    const auto cases = stories_cases();
    auto run = [&](float temperature) {
        auto engine = make_engine(stories_model(), stories_tokenizer(), spec_config(1, 4));
        Collector col;
        for (size_t i = 0; i < cases.size(); ++i) {
            GenerationRequest r = greedy_request("c" + std::to_string(i), cases[i].prompt_ids, 120);
            r.sampling.temperature = temperature;
            r.sampling.seed = 11 + i;
            EXPECT_TRUE(engine->add_request(r, col.callback()).is_ok());
        }
        EXPECT_TRUE(col.wait(int(cases.size())));
        engine->shutdown(true);
        return engine->stats();
    };
    const EngineStats greedy = run(0.0f), cold = run(0.05f);
    ASSERT_GT(greedy.spec_num_draft_tokens, 0);
    ASSERT_GT(cold.spec_num_draft_tokens, 0);
    const double rate_greedy = double(greedy.spec_num_accepted_tokens) / double(greedy.spec_num_draft_tokens);
    const double rate_cold = double(cold.spec_num_accepted_tokens) / double(cold.spec_num_draft_tokens);
    EXPECT_GT(rate_cold, 0.5 * rate_greedy) << rate_cold << " vs greedy " << rate_greedy;
}

}  // namespace
}  // namespace kite
