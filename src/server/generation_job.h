// One HTTP generation request in flight: it submits one or more engine requests (several prompts,
// each with n choices), collects their outputs on the connection's strand, streams deltas or builds
// the final body through an API-specific GenerationApi, and on the end counts metrics, writes the
// access-log line and frees the concurrency slot. A client that goes away aborts the engine requests.
//
// Threading: engine callbacks only post the output to the connection's strand (never block); all
// other methods run on that strand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/request.h"
#include "server/http.h"
#include "server/request_builder.h"
#include "server/server_state.h"

namespace kite::server {

struct ChoiceState {
    int sub = 0;                         // which engine request (prompt) it belongs to
    std::string text;                    // generated text so far
    std::vector<int32_t> token_ids;
    std::vector<TokenLogprob> logprobs;
    bool finished = false;
    FinishReason reason = FinishReason::kNone;
    std::string stop_reason;
    float cumulative_logprob = 0.0f;
    double last_token_s = 0;
};

struct SubRequest {
    std::string engine_id;
    std::vector<int32_t> prompt_ids;
    std::string prompt_text;             // for echo
    int first_choice = 0, num_choices = 1;
    int num_cached_tokens = 0;
    RequestTimings timings;
    double first_token_s = 0;            // server clock
};

// What changed in one choice with one engine output.
struct ChoiceDelta {
    int choice = 0;
    std::string text;
    std::vector<int32_t> token_ids;
    std::vector<TokenLogprob> logprobs;
    bool finished = false;
};

class GenerationJob;

// The API-specific part: the shape of stream events and of the final body.
class GenerationApi {
public:
    virtual ~GenerationApi() = default;
    virtual void stream_begin(GenerationJob&) {}
    virtual void stream_delta(GenerationJob& job, const ChoiceDelta& delta) = 0;
    // After the last delta: usage chunk, terminator. `error` is set when the engine failed.
    virtual void stream_end(GenerationJob& job, const Status& error) = 0;
    virtual HttpResponse response(GenerationJob& job) = 0;
};

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
public:
    // Call after ServerState::try_acquire() succeeded; the job releases the slot when it ends.
    GenerationJob(ServerState& state, const HttpRequest& req, std::shared_ptr<Exchange> exchange,
                  std::shared_ptr<GenerationApi> api, ApiOptions options, std::string id);
    ~GenerationJob();

    // Before start(): one engine request (its prompt_ids set) per prompt.
    void add(GenerationRequest request, std::string prompt_text);
    // Submits everything to the engine. On a refusal, answers the error and ends.
    void start();

    ServerState& state() { return state_; }
    const std::string& id() const { return id_; }
    int64_t created() const { return created_; }
    const ApiOptions& options() const { return options_; }
    const std::vector<ChoiceState>& choices() const { return choices_; }
    const std::vector<SubRequest>& subs() const { return subs_; }
    int64_t num_prompt_tokens() const;
    int64_t num_completion_tokens() const;
    double arrival_s() const { return arrival_s_; }
    void write(std::string data) { exchange_->write(std::move(data)); }

private:
    void on_output(const RequestOutput& out);
    void cancel();
    void on_timeout();
    void finish();
    void fail_before_start(const Status& st);

    ServerState& state_;
    std::shared_ptr<Exchange> exchange_;
    std::shared_ptr<GenerationApi> api_;
    ApiOptions options_;
    std::string id_;
    std::string peer_, method_, path_;
    int64_t created_;
    double arrival_s_;
    double first_token_s_ = 0;
    std::vector<GenerationRequest> pending_;
    std::vector<SubRequest> subs_;
    std::vector<ChoiceState> choices_;
    std::unordered_map<std::string, int> sub_by_engine_id_;
    int num_unfinished_ = 0;
    Status error_;
    bool started_ = false, done_ = false, closed_ = false, timed_out_ = false, slot_held_ = true;
};

// OpenAI's finish_reason for an engine one ("stop" / "length"; aborts read as "stop").
const char* openai_finish_reason(FinishReason r);

}  // namespace kite::server
