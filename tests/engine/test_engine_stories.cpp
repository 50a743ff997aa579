// The engine end to end on stories260K. Expected tokens come from shared/models/stories260K:
// reference.json (transformers' greedy ids and text) and generation.json (transformers' beam
// search and repetition penalty), never from kite itself.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine_test_util.h"

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

std::unique_ptr<Engine> make_engine(EngineConfig config = {}) {
    if (config.num_kv_blocks == 0 && config.kv_cache_mem_mb == 0) config.num_kv_blocks = 256;
    auto e = Engine::create(stories_model(), stories_tokenizer(), config);
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(*e) : nullptr;
}

std::vector<int32_t> head(const std::vector<int32_t>& v, size_t n) { return {v.begin(), v.begin() + long(n)}; }

TEST(EngineStories, GreedyMatchesTransformersForEveryCaseInOneBatch) {
    const auto cases = stories_cases();
    auto engine = make_engine();
    Collector col;
    for (size_t i = 0; i < cases.size(); ++i) {
        ASSERT_TRUE(engine->add_request(greedy_request("c" + std::to_string(i), cases[i].prompt_ids, 60),
                                        col.callback()).is_ok());
    }
    ASSERT_TRUE(col.wait(int(cases.size())));
    auto res = col.results();
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& r = res["c" + std::to_string(i)][0];
        EXPECT_EQ(r.ids, head(cases[i].greedy_ids, 60)) << "case " << i;
        EXPECT_EQ(r.reason, FinishReason::kLength);
    }
    // Case 0's text (no special tokens in its first 60 ids) is transformers' text.
    const std::string& t = res["c0"][0].text;
    EXPECT_EQ(t, cases[0].greedy_text.substr(0, t.size()));
    EXPECT_GT(t.size(), 100u);
    engine->shutdown(true);
    const EngineStats s = engine->stats();
    EXPECT_EQ(s.num_free_kv_blocks, s.num_kv_blocks);
}

TEST(EngineStories, StopStringCutsTextAndHoldsBackPartialMatches) {
    const Case c = stories_cases()[0];
    auto engine = make_engine();
    Collector col;
    GenerationRequest r = greedy_request("s", c.prompt_ids, 100);
    r.stop = {"Lily", "dragon"};
    ASSERT_TRUE(engine->add_request(r, col.callback()).is_ok());
    ASSERT_TRUE(col.wait(1));
    const auto res = col.results()["s"][0];
    const size_t cut = c.greedy_text.find("Lily");
    EXPECT_EQ(res.text, c.greedy_text.substr(0, cut));
    EXPECT_EQ(res.reason, FinishReason::kStop);
    EXPECT_EQ(res.stop_reason, "Lily");
    // The tokens run up to the one that completed the match: a prefix of the greedy ids whose
    // decoded text first contains "Lily".
    ASSERT_FALSE(res.ids.empty());
    EXPECT_EQ(res.ids, head(c.greedy_ids, res.ids.size()));
    auto tok = stories_tokenizer();
    EXPECT_NE(tok->decode(res.ids, true)->find("Lily"), std::string::npos);
    EXPECT_EQ(tok->decode(head(res.ids, res.ids.size() - 1), true)->find("Lily"), std::string::npos);
}

TEST(EngineStories, StopTokenIdsRespectMinNewTokensAndMaxNewTokens) {
    const Case c = stories_cases()[0];
    const int32_t tok = c.greedy_ids[3];  // first generated at index 3
    // Expected: the first occurrence at or after index min_new_tokens - 1.
    auto expect_stop = [&](int min_new) {
        for (size_t i = size_t(std::max(0, min_new - 1)); i < c.greedy_ids.size(); ++i) {
            if (c.greedy_ids[i] == tok) return i + 1;
        }
        return size_t(0);
    };
    auto engine = make_engine();
    Collector col;
    GenerationRequest a = greedy_request("a", c.prompt_ids, 150);
    a.stop_token_ids = {tok};
    GenerationRequest b = a;
    b.id = "b";
    b.min_new_tokens = 10;
    GenerationRequest m = greedy_request("m", c.prompt_ids, 7);
    ASSERT_TRUE(engine->add_request(a, col.callback()).is_ok());
    ASSERT_TRUE(engine->add_request(b, col.callback()).is_ok());
    ASSERT_TRUE(engine->add_request(m, col.callback()).is_ok());
    ASSERT_TRUE(col.wait(3));
    auto res = col.results();
    EXPECT_EQ(res["a"][0].ids, head(c.greedy_ids, expect_stop(0)));
    EXPECT_EQ(res["a"][0].ids.size(), 4u);
    EXPECT_EQ(res["a"][0].reason, FinishReason::kStop);
    EXPECT_EQ(res["a"][0].stop_reason, std::to_string(tok));
    ASSERT_GT(expect_stop(10), 10u);
    EXPECT_EQ(res["b"][0].ids, head(c.greedy_ids, expect_stop(10)));
    EXPECT_EQ(res["m"][0].ids, head(c.greedy_ids, 7));
    EXPECT_EQ(res["m"][0].reason, FinishReason::kLength);
}

TEST(EngineStories, BosIsNotEosButAStopTokenWhenAsked) {
    // Case 2's greedy output contains a BOS (id 1) where one story ends; EOS (2) never comes.
    const Case c = stories_cases()[2];
    const auto bos = std::find(c.greedy_ids.begin(), c.greedy_ids.end(), 1);
    ASSERT_NE(bos, c.greedy_ids.end());
    auto engine = make_engine();
    Collector col;
    GenerationRequest r = greedy_request("r", c.prompt_ids, 200);
    r.stop_token_ids = {1};
    ASSERT_TRUE(engine->add_request(r, col.callback()).is_ok());
    ASSERT_TRUE(col.wait(1));
    EXPECT_EQ(col.results()["r"][0].ids, std::vector<int32_t>(c.greedy_ids.begin(), bos + 1));
}

TEST(EngineStories, RepetitionPenaltyMatchesTransformers) {
    const auto gen = read_json(stories_dir() + "/generation.json");
    for (const auto& c : gen["cases"]) {
        if (c["kind"] != "greedy_repetition_penalty") continue;
        auto engine = make_engine();
        Collector col;
        GenerationRequest r = greedy_request("p", c["prompt_ids"].get<std::vector<int32_t>>(), c["max_new_tokens"]);
        r.sampling.repetition_penalty = c["repetition_penalty"];
        ASSERT_TRUE(engine->add_request(r, col.callback()).is_ok());
        ASSERT_TRUE(col.wait(1));
        EXPECT_EQ(col.results()["p"][0].ids, c["output_ids"].get<std::vector<int32_t>>());
    }
}

TEST(EngineStories, BeamSearchMatchesTransformers) {
    const auto gen = read_json(stories_dir() + "/generation.json");
    const Case other = stories_cases()[3];
    struct Variant {
        int block_size, num_blocks, max_tokens;
        bool with_other;  // a long greedy request beside it, to share the steps and force preemption
        PreemptionMode mode;
    };
    const Variant variants[] = {{4, 256, 2048, false, PreemptionMode::kRecompute},
                                {16, 256, 2048, false, PreemptionMode::kRecompute},
                                {4, 36, 8, true, PreemptionMode::kRecompute},
                                {4, 36, 7, true, PreemptionMode::kSwap}};
    int checked = 0;
    int64_t preemptions[2] = {0, 0};
    for (const auto& c : gen["cases"]) {
        if (c["kind"] != "beam_search") continue;
        for (const Variant& v : variants) {
            EngineConfig cfg;
            cfg.block_size = v.block_size;
            cfg.num_kv_blocks = v.num_blocks;
            cfg.max_num_batched_tokens = v.max_tokens;
            cfg.preemption_mode = v.mode;
            auto engine = make_engine(cfg);
            Collector col;
            GenerationRequest r = greedy_request("beam", c["prompt_ids"].get<std::vector<int32_t>>(), c["max_new_tokens"]);
            r.num_beams = c["num_beams"];
            r.num_return_sequences = c["num_return_sequences"];
            r.length_penalty = c["length_penalty"];
            ASSERT_TRUE(engine->add_request(r, col.callback()).is_ok());
            if (v.with_other) {
                ASSERT_TRUE(engine->add_request(greedy_request("other", other.prompt_ids, 40), col.callback()).is_ok());
            }
            ASSERT_TRUE(col.wait(r.num_return_sequences + (v.with_other ? 1 : 0)));
            const auto res = col.results()["beam"];
            ASSERT_EQ(res.size(), c["outputs"].size());
            for (size_t i = 0; i < res.size(); ++i) {
                EXPECT_EQ(res[i].ids, c["outputs"][i]["output_ids"].get<std::vector<int32_t>>())
                    << "beams " << r.num_beams << " output " << i << " block " << v.block_size << " chunk " << v.max_tokens;
                EXPECT_NEAR(res[i].score, c["outputs"][i]["score"].get<double>(), 1e-4);
                EXPECT_EQ(res[i].text, c["outputs"][i]["text"].get<std::string>());
            }
            if (v.with_other) {
                EXPECT_EQ(col.results()["other"][0].ids, head(other.greedy_ids, 40));
            }
            engine->shutdown(true);
            EXPECT_EQ(engine->stats().num_free_kv_blocks, engine->stats().num_kv_blocks);
            if (v.with_other) preemptions[v.mode == PreemptionMode::kSwap] += engine->stats().num_preemptions;
            ++checked;
        }
    }
    EXPECT_GE(checked, 8);
    EXPECT_GT(preemptions[0], 0);  // the budgets above force some, by recompute and by swap
    EXPECT_GT(preemptions[1], 0);
}

TEST(EngineStories, ParallelSamplesShareThePromptAndFollowTheirSeeds) {
    const Case c = stories_cases()[3];  // 79-token prompt: 4 full blocks of 16 shared
    auto engine = make_engine();
    Collector col;
    GenerationRequest g = greedy_request("g", c.prompt_ids, 20);
    g.n = 3;
    GenerationRequest s = greedy_request("s", c.prompt_ids, 20);
    s.n = 2;
    s.sampling.temperature = 1.0f;
    s.sampling.seed = 42;
    ASSERT_TRUE(engine->add_request(g, col.callback()).is_ok());
    ASSERT_TRUE(engine->add_request(s, col.callback()).is_ok());
    ASSERT_TRUE(col.wait(5));
    auto res = col.results();
    ASSERT_EQ(res["g"].size(), 3u);
    for (const auto& r : res["g"]) EXPECT_EQ(r.ids, head(c.greedy_ids, 20));
    // Sample i of a seeded request draws from seed + i: equal to single requests with those seeds.
    Collector single;
    for (int i = 0; i < 2; ++i) {
        GenerationRequest one = s;
        one.id = "one" + std::to_string(i);
        one.n = 1;
        one.sampling.seed = 42 + i;
        ASSERT_TRUE(engine->add_request(one, single.callback()).is_ok());
    }
    ASSERT_TRUE(single.wait(2));
    auto ones = single.results();
    ASSERT_EQ(res["s"].size(), 2u);
    EXPECT_EQ(res["s"][0].ids, ones["one0"][0].ids);
    EXPECT_EQ(res["s"][1].ids, ones["one1"][0].ids);
    EXPECT_NE(res["s"][0].ids, res["s"][1].ids);
    engine->shutdown(true);
    EXPECT_EQ(engine->stats().num_free_kv_blocks, engine->stats().num_kv_blocks);
}

TEST(EngineStories, PrefixReuseReportsCachedTokensAndSameOutput) {
    const Case c = stories_cases()[3];
    EngineConfig cfg;
    cfg.block_size = 8;
    auto engine = make_engine(cfg);
    Collector first;
    ASSERT_TRUE(engine->add_request(greedy_request("a", c.prompt_ids, 30), first.callback()).is_ok());
    ASSERT_TRUE(first.wait(1));
    Collector second;
    ASSERT_TRUE(engine->add_request(greedy_request("b", c.prompt_ids, 30), second.callback()).is_ok());
    ASSERT_TRUE(second.wait(1));
    const auto a = first.results()["a"][0], b = second.results()["b"][0];
    EXPECT_EQ(a.num_cached_tokens, 0);
    EXPECT_EQ(b.num_cached_tokens, 72);  // 79 tokens: 9 full blocks of 8 (the last token is always computed)
    EXPECT_EQ(a.ids, head(c.greedy_ids, 30));
    EXPECT_EQ(b.ids, a.ids);
    const EngineStats s = engine->stats();
    EXPECT_EQ(s.prefix_cache_hits, 72);
    EXPECT_EQ(s.prefix_cache_queries, 2 * 79);
}

TEST(EngineStories, RequestsThatCanNeverFitAreRejected) {
    EngineConfig cfg;
    cfg.num_kv_blocks = 4;
    cfg.block_size = 16;
    auto engine = make_engine(cfg);
    Collector col;
    std::vector<int32_t> long_prompt(64, 5);  // 64 + 1 tokens need 5 blocks of 16
    Status s = engine->add_request(greedy_request("x", long_prompt, 4), col.callback());
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
    EXPECT_NE(s.message().find("KV"), std::string::npos) << s.message();
    std::vector<int32_t> beyond_context(512, 5);
    s = engine->add_request(greedy_request("y", beyond_context, 4), col.callback());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("context"), std::string::npos) << s.message();
    EXPECT_FALSE(engine->add_request(greedy_request("z", {}, 4), col.callback()).is_ok());
    EXPECT_FALSE(engine->add_request(greedy_request("w", {1, 600}, 4), col.callback()).is_ok());
    GenerationRequest bad = greedy_request("v", {1, 2}, 0);
    EXPECT_FALSE(engine->add_request(bad, col.callback()).is_ok());
    // A prompt that fits but whose output outgrows the whole cache ends with "length".
    ASSERT_TRUE(engine->add_request(greedy_request("grow", {1, 403, 407}, 100), col.callback()).is_ok());
    ASSERT_TRUE(col.wait(1));
    const auto r = col.results()["grow"][0];
    EXPECT_EQ(r.reason, FinishReason::kLength);
    EXPECT_EQ(r.ids.size(), 64u - 3u + 1u);  // positions 0..63 computed, plus the last sampled token
}

TEST(EngineStories, AbortFreesBlocksAndSendsAFinalOutput) {
    const Case c = stories_cases()[0];
    auto engine = make_engine();
    Collector col;
    Engine* e = engine.get();
    col.set_hook([e](const RequestOutput& o) {
        if (o.request_id == "long" && o.num_output_tokens == 5) e->abort_request("long");
    });
    ASSERT_TRUE(engine->add_request(greedy_request("long", c.prompt_ids, 300), col.callback()).is_ok());
    ASSERT_TRUE(col.wait(1));
    const auto r = col.results()["long"][0];
    EXPECT_EQ(r.reason, FinishReason::kAbort);
    EXPECT_GE(r.ids.size(), 5u);
    EXPECT_LT(r.ids.size(), 300u);
    engine->shutdown(true);
    EXPECT_EQ(engine->stats().num_free_kv_blocks, engine->stats().num_kv_blocks);
    EXPECT_EQ(engine->stats().num_running, 0);
}

}  // namespace
}  // namespace kite
