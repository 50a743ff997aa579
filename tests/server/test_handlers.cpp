// Routing and the generation endpoints against a scripted engine: what each API answers (full and
// streamed), that a vanished client aborts its engine requests and frees its slot, the
// concurrency limit, and the checks in front of the routes (loading, API key, unknown routes).
#include <gtest/gtest.h>

#include "fakes.h"
#include "server/metrics.h"
#include "server/router.h"

namespace kite::server {
namespace {

using nlohmann::json;
using testing::FakeEngine;
using testing::FakeExchange;

HttpRequest post(const std::string& path, const json& body) {
    HttpRequest r;
    r.method = "POST";
    r.path = r.target = path;
    r.body = body.dump();
    return r;
}

HttpRequest get(const std::string& path) {
    HttpRequest r;
    r.method = "GET";
    r.path = r.target = path;
    return r;
}

// SSE payloads of a recorded stream (without the terminator).
std::vector<json> events(const FakeExchange& ex, bool native = false) {
    std::vector<json> out;
    const std::string done = native ? "data:[done]\n\n" : "data: [DONE]\n\n";
    EXPECT_FALSE(ex.writes.empty());
    if (ex.writes.empty()) return out;
    EXPECT_EQ(ex.writes.back(), done);
    for (size_t i = 0; i + 1 < ex.writes.size(); ++i) {
        const std::string& w = ex.writes[i];
        EXPECT_EQ(w.rfind("data:", 0), 0u);
        out.push_back(json::parse(w.substr(5)));
    }
    return out;
}

class Handlers : public ::testing::Test {
protected:
    void SetUp() override { testing::make_ready(st, engine); }
    std::shared_ptr<FakeExchange> call(const HttpRequest& req) {
        auto ex = std::make_shared<FakeExchange>();
        dispatch(st, req, ex);
        return ex;
    }
    ServerState st;
    std::shared_ptr<FakeEngine> engine = std::make_shared<FakeEngine>();
};

TEST_F(Handlers, CompletionWithTwoChoices) {
    auto ex = call(post("/v1/completions", {{"prompt", "ab"}, {"n", 2}, {"max_tokens", 3}}));
    ASSERT_EQ(engine->order.size(), 1u);
    const std::string id = engine->order[0];
    EXPECT_EQ(engine->live[id].request.prompt_ids, (std::vector<int32_t>{1, 3, 4}));
    EXPECT_EQ(engine->live[id].request.max_new_tokens, 3);
    EXPECT_EQ(st.in_flight(), 1);
    engine->emit(id, 1, {5}, false);
    engine->emit(id, 0, {6, 7}, false);
    EXPECT_TRUE(ex->replies.empty());
    engine->emit(id, 0, {8}, true);
    engine->emit(id, 1, {9, 10}, true, FinishReason::kStop);
    ASSERT_EQ(ex->replies.size(), 1u);
    json j = json::parse(ex->replies[0].body);
    EXPECT_EQ(j["object"], "text_completion");
    EXPECT_EQ(j["model"], "toy");
    EXPECT_EQ(j["choices"][0]["text"], "def");
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(j["choices"][1]["text"], "cgh");
    EXPECT_EQ(j["choices"][1]["finish_reason"], "stop");
    EXPECT_EQ(j["usage"]["prompt_tokens"], 3);
    EXPECT_EQ(j["usage"]["completion_tokens"], 6);
    EXPECT_EQ(st.in_flight(), 0);
}

TEST_F(Handlers, ChatStreamHasRoleContentOneFinishAndUsage) {
    auto ex = call(post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "ab"}}}},
                                                 {"stream", true}, {"stream_options", {{"include_usage", true}}}}));
    ASSERT_EQ(engine->order.size(), 1u);
    const std::string id = engine->order[0];
    // The toy template renders the content only, and no special tokens are added for chat.
    EXPECT_EQ(engine->live[id].request.prompt_ids, (std::vector<int32_t>{3, 4}));
    engine->emit(id, 0, {5}, false);
    engine->emit(id, 0, {6}, true, FinishReason::kStop);
    EXPECT_EQ(ex->stream_status, 200);
    EXPECT_EQ(ex->stream_type, "text/event-stream");
    EXPECT_TRUE(ex->ended);
    auto ev = events(*ex);
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[0]["choices"][0]["delta"]["role"], "assistant");
    EXPECT_EQ(ev[1]["choices"][0]["delta"]["content"], "c");
    EXPECT_TRUE(ev[1]["choices"][0]["finish_reason"].is_null());
    EXPECT_EQ(ev[2]["choices"][0]["delta"]["content"], "d");
    EXPECT_EQ(ev[2]["choices"][0]["finish_reason"], "stop");
    EXPECT_TRUE(ev[3]["choices"].empty());
    EXPECT_EQ(ev[3]["usage"]["completion_tokens"], 2);
    for (const json& e : ev) EXPECT_EQ(e["object"], "chat.completion.chunk");
}

TEST_F(Handlers, NativeStreamIsCumulativeUnlessIncremental) {
    for (bool incremental : {false, true}) {
        auto ex = call(post("/", {{"prompt", "a"}, {"yield_generator", true},
                                  {"generate_config", {{"max_new_tokens", 2}, {"return_incremental", incremental}}}}));
        const std::string id = engine->order.back();
        engine->emit(id, 0, {5}, false);
        engine->emit(id, 0, {6}, true);
        auto ev = events(*ex, /*native=*/true);
        ASSERT_EQ(ev.size(), 2u);
        EXPECT_EQ(ev[0]["response"], "c");
        EXPECT_EQ(ev[1]["response"], incremental ? "d" : "cd");
        EXPECT_FALSE(ev[0]["finished"].get<bool>());
        EXPECT_TRUE(ev[1]["finished"].get<bool>());
        EXPECT_EQ(ev[1]["aux_info"]["output_len"], 2);
        EXPECT_EQ(ev[1]["aux_info"]["input_len"], 2);
    }
}

TEST_F(Handlers, NativeBatchAnswersResponseBatch) {
    auto ex = call(post("/", {{"prompt_batch", {"a", "b"}}, {"max_new_tokens", 1}}));
    ASSERT_EQ(engine->order.size(), 2u);
    engine->emit(engine->order[1], 0, {7}, true);
    engine->emit(engine->order[0], 0, {6}, true);
    ASSERT_EQ(ex->replies.size(), 1u);
    json j = json::parse(ex->replies[0].body);
    EXPECT_EQ(j["response_batch"][0]["response"], "d");
    EXPECT_EQ(j["response_batch"][1]["response"], "e");
}

TEST_F(Handlers, VanishedClientAbortsAndFreesItsSlot) {
    auto ex = call(post("/v1/completions", {{"prompt", {"a", "b"}}, {"stream", true}}));
    ASSERT_EQ(engine->order.size(), 2u);
    engine->emit(engine->order[0], 0, {5}, false);
    ASSERT_TRUE(ex->close_fn);
    ex->close_fn();
    EXPECT_EQ(engine->aborted.size(), 2u);
    EXPECT_EQ(st.in_flight(), 1);  // until the engine confirms
    engine->deliver_aborts();
    EXPECT_EQ(st.in_flight(), 0);
    EXPECT_NE(st.metrics.render(nullptr).find("kite:http_requests_total{status=\"499\"} 1"), std::string::npos);
}

TEST_F(Handlers, ConcurrencyLimitAnswers429) {
    st.config.concurrency_limit = 1;
    auto first = call(post("/v1/completions", {{"prompt", "a"}}));
    auto second = call(post("/v1/completions", {{"prompt", "a"}}));
    ASSERT_EQ(second->replies.size(), 1u);
    EXPECT_EQ(second->replies[0].status, 429);
    engine->emit(engine->order[0], 0, {5}, true);
    auto third = call(post("/v1/completions", {{"prompt", "a"}}));
    EXPECT_TRUE(third->replies.empty());  // accepted, in flight
}

TEST_F(Handlers, EngineRefusalIsAnError) {
    engine->refuse_next = true;
    auto ex = call(post("/v1/completions", {{"prompt", "a"}}));
    ASSERT_EQ(ex->replies.size(), 1u);
    EXPECT_EQ(ex->replies[0].status, 400);
    EXPECT_EQ(st.in_flight(), 0);
}

TEST_F(Handlers, TimeoutAnswers408) {
    auto ex = call(post("/", {{"prompt", "a"}, {"timeout_ms", 5}}));
    ASSERT_EQ(ex->timers.size(), 1u);
    ex->timers[0]();
    engine->deliver_aborts();
    ASSERT_EQ(ex->replies.size(), 1u);
    EXPECT_EQ(ex->replies[0].status, 408);
}

TEST_F(Handlers, RoutesAuthAndLoading) {
    EXPECT_EQ(call(get("/nope"))->replies[0].status, 404);
    EXPECT_EQ(call(get("/v1/completions"))->replies[0].status, 405);
    EXPECT_EQ(call(get("/v1/models/toy"))->replies[0].status, 200);
    EXPECT_EQ(call(get("/v1/models/other"))->replies[0].status, 404);
    EXPECT_EQ(call(get("/health"))->replies[0].status, 200);
    st.config.api_key = "k";
    EXPECT_EQ(call(get("/v1/models"))->replies[0].status, 401);
    HttpRequest auth = get("/v1/models");
    auth.headers["authorization"] = "Bearer k";
    EXPECT_EQ(call(auth)->replies[0].status, 200);
    EXPECT_EQ(call(get("/health"))->replies[0].status, 200);

    ServerState loading;
    auto ex = std::make_shared<FakeExchange>();
    loading.config.access_log = false;
    dispatch(loading, get("/health"), ex);
    EXPECT_EQ(ex->replies[0].status, 503);
    ex = std::make_shared<FakeExchange>();
    dispatch(loading, post("/v1/completions", {{"prompt", "a"}}), ex);
    EXPECT_EQ(ex->replies[0].status, 503);
}

TEST_F(Handlers, OutOfMemoryInAHandlerIsA500ForThatRequestOnly) {
    auto ex = call(post("/tokenize", {{"prompt", "OUT OF MEMORY"}}));
    ASSERT_EQ(ex->replies.size(), 1u);
    EXPECT_EQ(ex->replies[0].status, 500);
    EXPECT_EQ(json::parse(ex->replies[0].body)["error"]["message"], "out of memory while handling this request");
    ex = call(post("/tokenize", {{"prompt", "ab"}}));
    EXPECT_EQ(ex->replies[0].status, 200);
}

TEST_F(Handlers, FullWaitingQueueIs429WithRetryAfter) {
    st.config.max_waiting_requests = 4;
    engine->num_waiting = 3;
    // Two prompts would make 5 waiting.
    auto ex = call(post("/v1/completions", {{"prompt", {"ab", "cd"}}, {"max_tokens", 2}}));
    ASSERT_EQ(ex->replies.size(), 1u);
    EXPECT_EQ(ex->replies[0].status, 429);
    EXPECT_EQ(json::parse(ex->replies[0].body)["error"]["message"],
              "the waiting queue is full (3 requests waiting, limit 4, --max-waiting-requests); retry later");
    ASSERT_EQ(ex->replies[0].headers.size(), 1u);
    EXPECT_EQ(ex->replies[0].headers[0], (std::pair<std::string, std::string>("Retry-After", "1")));
    EXPECT_TRUE(engine->order.empty());
    ex = call(post("/v1/completions", {{"prompt", "ab"}, {"max_tokens", 2}}));  // one more fits
    EXPECT_TRUE(ex->replies.empty());
    EXPECT_EQ(engine->order.size(), 1u);
}

TEST_F(Handlers, PromptBytesAreCappedBeforeTokenizingOnEveryRoute) {
    st.config.max_prompt_bytes = 10;
    const std::string big(11, 'a');
    for (const auto& [path, body] : std::vector<std::pair<std::string, json>>{
             {"/v1/completions", {{"prompt", big}}},
             {"/", {{"prompt", big}}},
             {"/tokenize", {{"prompt", big}}},
             {"/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", big}}}}}}}) {
        auto ex = call(post(path, body));
        ASSERT_EQ(ex->replies.size(), 1u) << path;
        EXPECT_EQ(ex->replies[0].status, 400) << path;
        EXPECT_NE(json::parse(ex->replies[0].body)["error"]["message"].get<std::string>().find(
                      "11 bytes of text exceed the limit of 10 bytes (--max-prompt-bytes)"),
                  std::string::npos)
            << path;
    }
    EXPECT_TRUE(engine->order.empty());
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    Metrics m;
    m.observe_ttft(0.003);
    m.observe_ttft(0.03);
    m.observe_ttft(100.0);
    const std::string text = m.render(nullptr);
    EXPECT_NE(text.find("kite:time_to_first_token_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("kite:time_to_first_token_seconds_bucket{le=\"0.04\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("kite:time_to_first_token_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("kite:time_to_first_token_seconds_count 3\n"), std::string::npos);
    EngineStats s;
    s.num_kv_blocks = 10;
    s.num_free_kv_blocks = 4;
    s.prefix_cache_queries = 8;
    s.prefix_cache_hits = 2;
    const std::string t2 = m.render(&s, 3, 7);
    EXPECT_NE(t2.find("kite:server_requests_in_flight 3\n"), std::string::npos);
    EXPECT_NE(t2.find("kite:http_connections 7\n"), std::string::npos);
    EXPECT_NE(t2.find("kite:kv_cache_usage_perc 0.6\n"), std::string::npos);
    EXPECT_NE(t2.find("kite:prefix_cache_hit_rate 0.25\n"), std::string::npos);
}

}  // namespace
}  // namespace kite::server
