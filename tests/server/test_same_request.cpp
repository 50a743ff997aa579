// One request builder for every front end: the same JSON sent to the native API (POST /), to
// /v1/completions and as a `kite generate --requests` line yields the same GenerationRequest, with
// the model's generation_config defaults applied the same way by each. The expected values are the
// JSON's own numbers and Hugging Face's rule for do_sample=false (greedy), not kite's output.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/batch_request.h"
#include "engine/request_fields.h"
#include "fakes.h"
#include "server/router.h"

namespace kite::server {
namespace {

using nlohmann::json;
using testing::FakeEngine;
using testing::FakeExchange;
using testing::FakeTokenizer;
using testing::make_ready;

// The request the engine got for `body` on `path` (the fake engine keeps it).
GenerationRequest through_server(const std::string& path, const json& body, const GenerationDefaults& defaults) {
    ServerState st;
    auto engine = std::make_shared<FakeEngine>();
    make_ready(st, engine);
    st.limits.defaults = defaults;
    HttpRequest req;
    req.method = "POST";
    req.target = path;
    req.path = path;
    req.body = body.dump();
    auto ex = std::make_shared<FakeExchange>();
    dispatch(st, req, ex);
    if (engine->order.size() != 1) {
        ADD_FAILURE() << path << ": no request reached the engine: "
                      << (ex->replies.empty() ? std::string("(no reply)") : ex->replies[0].body);
        return {};
    }
    return engine->live.at(engine->order[0]).request;
}

GenerationRequest through_batch_line(const json& body, const GenerationDefaults& defaults) {
    FakeTokenizer tok;
    ModelLimits limits;
    limits.vocab_size = 32;
    limits.max_model_len = 64;
    limits.defaults = defaults;
    auto r = request_from_json_line(body, &tok, "", limits, "line-1");
    if (!r.ok()) {
        ADD_FAILURE() << "--requests: " << r.status().message();
        return {};
    }
    return *r;
}

void expect_same(const GenerationRequest& a, const GenerationRequest& b, const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(a.prompt_ids, b.prompt_ids);
    EXPECT_EQ(a.max_new_tokens, b.max_new_tokens);
    EXPECT_EQ(a.min_new_tokens, b.min_new_tokens);
    EXPECT_EQ(a.ignore_eos, b.ignore_eos);
    EXPECT_EQ(a.stop, b.stop);
    EXPECT_EQ(a.stop_token_ids, b.stop_token_ids);
    EXPECT_EQ(a.include_stop_str_in_output, b.include_stop_str_in_output);
    EXPECT_EQ(a.n, b.n);
    EXPECT_EQ(a.num_beams, b.num_beams);
    EXPECT_EQ(a.num_return_sequences, b.num_return_sequences);
    EXPECT_EQ(a.length_penalty, b.length_penalty);
    EXPECT_EQ(a.early_stopping, b.early_stopping);
    EXPECT_EQ(a.skip_special_tokens, b.skip_special_tokens);
    const SamplingParams &x = a.sampling, &y = b.sampling;
    EXPECT_EQ(x.temperature, y.temperature);
    EXPECT_EQ(x.top_k, y.top_k);
    EXPECT_EQ(x.top_p, y.top_p);
    EXPECT_EQ(x.min_p, y.min_p);
    EXPECT_EQ(x.repetition_penalty, y.repetition_penalty);
    EXPECT_EQ(x.presence_penalty, y.presence_penalty);
    EXPECT_EQ(x.frequency_penalty, y.frequency_penalty);
    EXPECT_EQ(x.seed, y.seed);
    EXPECT_EQ(x.logprobs, y.logprobs);
    EXPECT_EQ(x.logit_bias, y.logit_bias);
}

// The three front ends on one body; returns the native one after checking the others equal it.
GenerationRequest all_three(const json& body, const GenerationDefaults& defaults) {
    const GenerationRequest native = through_server("/", body, defaults);
    expect_same(native, through_server("/v1/completions", body, defaults), "OpenAI completions vs native");
    expect_same(native, through_batch_line(body, defaults), "--requests vs native");
    return native;
}

TEST(SameRequest, OneJsonThreeFrontEnds) {
    // OpenAI and rtp-llm spell max tokens, seed and stop strings differently; the body carries both.
    const json body = {{"prompt", "hi there"}, {"max_tokens", 7}, {"max_new_tokens", 7}, {"min_tokens", 2},
                       {"min_new_tokens", 2}, {"temperature", 0.5}, {"top_k", 4}, {"top_p", 0.75},
                       {"min_p", 0.125}, {"repetition_penalty", 1.25}, {"presence_penalty", 0.5},
                       {"frequency_penalty", -0.5}, {"seed", 42}, {"random_seed", 42}, {"stop", {"xyz"}},
                       {"stop_words_str", {"xyz"}}, {"ignore_eos", true}};
    const GenerationRequest r = all_three(body, {});
    // FakeTokenizer: <s> = 1, 'a'.. = 3.., ' ' = 29.
    EXPECT_EQ(r.prompt_ids, (std::vector<int32_t>{1, 10, 11, 29, 22, 10, 7, 20, 7}));
    EXPECT_EQ(r.max_new_tokens, 7);
    EXPECT_EQ(r.min_new_tokens, 2);
    EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
    EXPECT_EQ(r.sampling.top_k, 4);
    EXPECT_FLOAT_EQ(r.sampling.top_p, 0.75f);
    EXPECT_FLOAT_EQ(r.sampling.min_p, 0.125f);
    EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.25f);
    EXPECT_EQ(r.sampling.seed, 42u);
    EXPECT_EQ(r.stop, std::vector<std::string>{"xyz"});
    EXPECT_TRUE(r.ignore_eos);
}

TEST(SameRequest, GenerationConfigDefaultsAppliedAlike) {
    GenerationDefaults sampled;
    sampled.temperature = 0.7f;
    sampled.top_k = 20;
    sampled.top_p = 0.9f;
    sampled.repetition_penalty = 1.1f;
    sampled.max_new_tokens = 9;
    const GenerationRequest r = all_three({{"prompt", "ab"}}, sampled);
    EXPECT_FLOAT_EQ(r.sampling.temperature, 0.7f);
    EXPECT_EQ(r.sampling.top_k, 20);
    EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
    EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.1f);
    EXPECT_EQ(r.max_new_tokens, 9);

    // transformers: do_sample=False is greedy decoding, whatever temperature the config holds.
    GenerationDefaults greedy = sampled;
    greedy.do_sample = false;
    const GenerationRequest g = all_three({{"prompt", "ab"}, {"max_tokens", 3}, {"max_new_tokens", 3}}, greedy);
    EXPECT_EQ(g.sampling.temperature, 0.0f);
    EXPECT_EQ(g.max_new_tokens, 3);
    // A temperature the client sends still wins.
    const GenerationRequest t = all_three({{"prompt", "ab"}, {"temperature", 0.25}}, greedy);
    EXPECT_FLOAT_EQ(t.sampling.temperature, 0.25f);
}

TEST(SameRequest, SameBoundsSameMessage) {
    // A field read by all three with the same range fails the same way in each.
    const json bad = {{"prompt", "ab"}, {"top_k", 1000}};
    FakeTokenizer tok;
    ModelLimits limits;
    limits.vocab_size = 32;
    limits.max_model_len = 64;
    auto line = request_from_json_line(bad, &tok, "", limits, "1");
    ASSERT_FALSE(line.ok());
    for (ApiKind kind : {ApiKind::kNative, ApiKind::kCompletions, ApiKind::kChat}) {
        auto p = parse_generation(bad, kind, limits);
        ASSERT_FALSE(p.ok());
        EXPECT_EQ(p.status().message(), line.status().message());
    }
}

TEST(RequestFieldsDoc, DocsHoldTheTable) {
    std::ifstream f(std::string(KITE_SOURCE_DIR) + "/docs/requests.md");
    ASSERT_TRUE(f) << "docs/requests.md is missing";
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_NE(ss.str().find(request_fields_markdown()), std::string::npos)
        << "docs/requests.md is out of date; the table should read:\n" << request_fields_markdown();
}

}  // namespace
}  // namespace kite::server
