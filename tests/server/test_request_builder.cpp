// JSON -> engine request: field names of each API, ranges, defaults, the prompt checks, and the
// error messages (one line, naming the field).
#include <gtest/gtest.h>

#include "server/errors.h"
#include "server/json_fields.h"
#include "server/request_builder.h"

namespace kite::server {
namespace {

using nlohmann::json;

ModelLimits limits() {
    ModelLimits l;
    l.vocab_size = 100;
    l.max_model_len = 50;
    return l;
}

TEST(RequestBuilder, OpenAiFieldsMapOntoTheEngineRequest) {
    json b = {{"max_tokens", 7}, {"temperature", 0.5}, {"top_p", 0.9}, {"n", 3}, {"stop", "END"},
              {"seed", 42}, {"presence_penalty", 0.5}, {"frequency_penalty", -0.5}, {"logit_bias", {{"5", -100}}},
              {"top_k", 4}, {"min_p", 0.1}, {"ignore_eos", true}, {"repetition_penalty", 1.2}, {"stream", true},
              {"stream_options", {{"include_usage", true}}}, {"logprobs", 2}, {"echo", true}};
    b.erase("echo");
    auto p = parse_generation(b, ApiKind::kCompletions, limits());
    ASSERT_TRUE(p.ok()) << p.status().message();
    const GenerationRequest& r = p->request;
    EXPECT_EQ(r.max_new_tokens, 7);
    EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
    EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
    EXPECT_EQ(r.n, 3);
    EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
    EXPECT_EQ(r.sampling.seed, 42u);
    EXPECT_EQ(r.sampling.logit_bias.size(), 1u);
    EXPECT_EQ(r.sampling.logit_bias[0].first, 5);
    EXPECT_EQ(r.sampling.top_k, 4);
    EXPECT_TRUE(r.ignore_eos);
    EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.2f);
    EXPECT_TRUE(p->api.stream);
    EXPECT_TRUE(p->api.include_usage);
    EXPECT_EQ(p->api.logprobs, 2);
    EXPECT_EQ(r.sampling.logprobs, 2);
}

TEST(RequestBuilder, ChatLogprobsAndMaxCompletionTokens) {
    auto p = parse_generation({{"max_completion_tokens", 9}, {"logprobs", true}, {"top_logprobs", 3}}, ApiKind::kChat,
                              limits());
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_EQ(p->request.max_new_tokens, 9);
    EXPECT_EQ(p->api.logprobs, 3);
    auto bad = parse_generation({{"top_logprobs", 3}}, ApiKind::kChat, limits());
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(param_of(bad.status()), "top_logprobs");
}

TEST(RequestBuilder, NativeGenerateConfigOverridesTopLevel) {
    json b = {{"max_new_tokens", 3},
              {"generate_config", {{"max_new_tokens", 5}, {"random_seed", 9}, {"stop_words_str", {"x"}},
                                   {"stop_words_list", {{7}, {8, 9}}}, {"num_return_sequences", 2},
                                   {"return_incremental", true}, {"timeout_ms", 100}}},
              {"yield_generator", true}};
    auto p = parse_generation(b, ApiKind::kNative, limits());
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_EQ(p->request.max_new_tokens, 5);
    EXPECT_EQ(p->request.sampling.seed, 9u);
    EXPECT_EQ(p->request.stop, std::vector<std::string>{"x"});
    EXPECT_EQ(p->request.stop_token_ids, std::vector<int32_t>{7});
    ASSERT_EQ(p->stop_id_sequences.size(), 1u);
    EXPECT_EQ(p->stop_id_sequences[0], (std::vector<int32_t>{8, 9}));
    EXPECT_EQ(p->request.n, 2);
    EXPECT_TRUE(p->api.return_incremental);
    EXPECT_TRUE(p->api.stream);
    EXPECT_EQ(p->api.timeout_ms, 100);
    auto beams = parse_generation({{"num_beams", 4}, {"num_return_sequences", 2}}, ApiKind::kNative, limits());
    ASSERT_TRUE(beams.ok());
    EXPECT_EQ(beams->request.num_beams, 4);
    EXPECT_EQ(beams->request.num_return_sequences, 2);
    EXPECT_EQ(beams->request.n, 1);
}

TEST(RequestBuilder, BadFieldsNameThemselves) {
    struct Case {
        json body;
        const char* param;
    } cases[] = {
        {{{"temperature", "hot"}}, "temperature"}, {{{"temperature", 2.5}}, "temperature"},
        {{{"max_tokens", 1.5}}, "max_tokens"},     {{{"max_tokens", 0}}, "max_tokens"},
        {{{"n", 0}}, "n"},                         {{{"stop", {1}}}, "stop"},
        {{{"logit_bias", {{"x", 1}}}}, "logit_bias"}, {{{"logit_bias", {{"100", 1}}}}, "logit_bias"},
        {{{"logit_bias", {{"5", 101}}}}, "logit_bias"}, {{{"top_p", 0}}, "top_p"},
        {{{"stream_options", {{"include_usage", true}}}}, "stream_options"}, {{{"seed", "s"}}, "seed"},
    };
    for (const Case& c : cases) {
        auto p = parse_generation(c.body, ApiKind::kCompletions, limits());
        ASSERT_FALSE(p.ok()) << c.body.dump();
        EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
        EXPECT_EQ(param_of(p.status()), c.param) << p.status().message();
        EXPECT_EQ(p.status().message().find('\n'), std::string::npos);
    }
}

TEST(RequestBuilder, FinalizeChecksThePromptAndFillsMaxTokens) {
    auto p = parse_generation(json::object(), ApiKind::kCompletions, limits());
    ASSERT_TRUE(p.ok());
    ParsedGeneration c = *p;
    ASSERT_TRUE(finalize_request(c, ApiKind::kCompletions, limits(), {1, 2, 3}).is_ok());
    EXPECT_EQ(c.request.max_new_tokens, 16);  // OpenAI's default for completions
    ParsedGeneration chat = *parse_generation(json::object(), ApiKind::kChat, limits());
    ASSERT_TRUE(finalize_request(chat, ApiKind::kChat, limits(), {1, 2, 3}).is_ok());
    EXPECT_EQ(chat.request.max_new_tokens, 47);  // the rest of the 50-token context
    ParsedGeneration x = *p;
    EXPECT_FALSE(finalize_request(x, ApiKind::kCompletions, limits(), std::vector<int32_t>(50, 3)).is_ok());
    x = *p;
    EXPECT_FALSE(finalize_request(x, ApiKind::kCompletions, limits(), {1, 100}).is_ok());
    x = *p;
    EXPECT_FALSE(finalize_request(x, ApiKind::kCompletions, limits(), {}).is_ok());
    ParsedGeneration big = *parse_generation({{"max_tokens", 48}}, ApiKind::kCompletions, limits());
    Status s = finalize_request(big, ApiKind::kCompletions, limits(), {1, 2, 3});
    EXPECT_EQ(param_of(s), "max_tokens");
}

TEST(RequestBuilder, PromptForms) {
    auto one = parse_prompts({{"prompt", "hi"}}, "prompt", 100, 8);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->size(), 1u);
    EXPECT_FALSE((*one)[0].is_ids);
    auto ids = parse_prompts({{"prompt", {1, 2, 3}}}, "prompt", 100, 8);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ((*ids)[0].ids, (std::vector<int32_t>{1, 2, 3}));
    auto mixed = parse_prompts({{"prompt", json::array({"a", json::array({4, 5})})}}, "prompt", 100, 8);
    ASSERT_TRUE(mixed.ok());
    EXPECT_EQ(mixed->size(), 2u);
    EXPECT_TRUE((*mixed)[1].is_ids);
    EXPECT_FALSE(parse_prompts({{"prompt", {1, 200}}}, "prompt", 100, 8).ok());
    EXPECT_FALSE(parse_prompts({{"prompt", json::array()}}, "prompt", 100, 8).ok());
    EXPECT_FALSE(parse_prompts({{"prompt", 3}}, "prompt", 100, 8).ok());
    EXPECT_FALSE(parse_prompts(json::object(), "prompt", 100, 8).ok());
    EXPECT_FALSE(parse_prompts({{"prompt", json::array({"a", "b", "c"})}}, "prompt", 100, 2).ok());
}

TEST(JsonFields, BodiesThatAreNotObjects) {
    EXPECT_FALSE(parse_json_object("").ok());
    EXPECT_FALSE(parse_json_object("[1]").ok());
    EXPECT_FALSE(parse_json_object("{\"a\":").ok());
    EXPECT_TRUE(parse_json_object("{\"a\": 1}").ok());
}

TEST(Errors, StatusMapsToHttpAndOpenAiShape) {
    EXPECT_EQ(http_status_for(invalid_argument("x")), 400);
    EXPECT_EQ(http_status_for(not_found("x")), 404);
    EXPECT_EQ(http_status_for(resource_exhausted("x")), 429);
    EXPECT_EQ(http_status_for(unavailable("x")), 503);
    EXPECT_EQ(http_status_for(internal_error("x")), 500);
    HttpResponse r = error_response(invalid_argument("top_p: bad"), "top_p");
    EXPECT_EQ(r.status, 400);
    json j = json::parse(r.body);
    EXPECT_EQ(j["error"]["message"], "top_p: bad");
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    EXPECT_EQ(j["error"]["param"], "top_p");
    EXPECT_TRUE(j["error"]["code"].is_null());
    // Invalid UTF-8 from a request is replaced, not thrown.
    json k = json::parse(error_body(400, std::string("bad \xff byte")));
    EXPECT_TRUE(k["error"]["message"].is_string());
}

}  // namespace
}  // namespace kite::server
