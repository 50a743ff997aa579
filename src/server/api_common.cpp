// Shared request plumbing of the generation endpoints, and the respond helpers of handlers.h.
#include "server/api_common.h"

#include "server/access_log.h"
#include "server/errors.h"
#include "server/json_fields.h"
#include "server/sse.h"

namespace kite::server {

namespace {
constexpr int64_t kMaxChoices = 1024;  // sequences one HTTP request may ask for (prompts x n)
}  // namespace

void respond(ServerState& st, const HttpRequest& req, Exchange& ex, HttpResponse r) {
    st.metrics.count_http(r.status);
    if (st.config.access_log)
        write_access_log({req.peer, req.method, req.path, "", r.status, -1, -1, -1,
                          req.received_s > 0 ? (now_seconds() - req.received_s) * 1e3 : 0.0});
    ex.reply(std::move(r));
}

void respond_json(ServerState& st, const HttpRequest& req, Exchange& ex, const nlohmann::json& body, int status) {
    HttpResponse r;
    r.status = status;
    r.body = dump(body);
    respond(st, req, ex, std::move(r));
}

void respond_error(ServerState& st, const HttpRequest& req, Exchange& ex, const Status& error) {
    respond(st, req, ex, error_response(error, param_of(error)));
}

Status check_model(const ServerState& st, const nlohmann::json& body) {
    auto it = body.find("model");
    if (it == body.end() || it->is_null()) return Status::ok();
    if (!it->is_string()) return invalid_argument("model: expected a string, got " + type_name(*it));
    if (it->get<std::string>() != st.config.served_model_name &&
        !st.loras.has(it->get<std::string>()))
        return not_found("model: '" + it->get<std::string>() + "' does not exist; this server serves '" +
                         st.config.served_model_name + "'");
    return Status::ok();
}

Result<std::vector<int32_t>> encode_text(const ServerState& st, const std::string& text, bool add_special_tokens,
                                         const char* field) {
    auto ids = st.tokenizer->encode(text, add_special_tokens);
    if (!ids.ok()) return invalid_argument(std::string(field) + ": cannot be tokenized: " + ids.status().message());
    return ids;
}

void launch_generation(ServerState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex,
                       ParsedGeneration parsed, ApiKind kind, std::vector<PreparedPrompt> prompts,
                       std::unique_ptr<GenerationApi> api, const char* id_prefix) {
    const int per_prompt = parsed.request.num_beams > 1 ? parsed.request.num_return_sequences : parsed.request.n;
    if (static_cast<int64_t>(prompts.size()) * per_prompt > kMaxChoices)
        return respond_error(st, req, *ex, invalid_argument("n: " + std::to_string(prompts.size()) + " prompts x " +
                                                            std::to_string(per_prompt) + " sequences exceeds " +
                                                            std::to_string(kMaxChoices) + " per request"));
    std::vector<GenerationRequest> requests;
    for (PreparedPrompt& p : prompts) {
        ParsedGeneration one = parsed;
        Status s = finalize_request(one, kind, st.limits, std::move(p.ids));
        if (!s.is_ok()) return respond_error(st, req, *ex, s);
        requests.push_back(std::move(one.request));
    }
    if (!st.try_acquire())
        return respond_error(st, req, *ex, resource_exhausted("too many requests in flight (concurrency limit " +
                                                              std::to_string(st.config.concurrency_limit) + ")"));
    auto job = std::make_shared<GenerationJob>(st, req, ex, std::move(api), parsed.api, st.next_id(id_prefix));
    for (size_t i = 0; i < requests.size(); ++i) job->add(std::move(requests[i]), std::move(prompts[i].text));
    job->start();
}

nlohmann::json usage_json(const GenerationJob& job) {
    const int64_t p = job.num_prompt_tokens(), c = job.num_completion_tokens();
    int64_t cached = 0;
    for (const SubRequest& s : job.subs()) cached += s.num_cached_tokens;
    return {{"prompt_tokens", p},
            {"completion_tokens", c},
            {"total_tokens", p + c},
            {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

std::string token_text(const Tokenizer& tok, int32_t id) {
    const int32_t one[1] = {id};
    auto s = tok.decode(one, /*skip_special_tokens=*/false);
    return s.ok() ? *s : tok.id_to_token(id);
}

nlohmann::json openai_chunk(GenerationJob& job, const char* object, nlohmann::json choices) {
    nlohmann::json c = {{"id", job.id()}, {"object", object}, {"created", job.created()},
                        {"model", job.state().config.served_model_name}, {"choices", std::move(choices)}};
    // continuous_usage_stats: the counts so far in every chunk, so a client that stops reading
    // early still knows what it used.
    if (job.options().continuous_usage) c["usage"] = usage_json(job);
    return c;
}

void openai_stream_end(GenerationJob& job, const char* object, const Status& error) {
    if (!error.is_ok()) {
        job.write(sse_data(dump({{"error", {{"message", error.message()}, {"type", "server_error"},
                                             {"param", nullptr}, {"code", nullptr}}}})));
    } else if (job.options().include_usage) {
        nlohmann::json c = openai_chunk(job, object, nlohmann::json::array());
        c["usage"] = usage_json(job);
        job.write(sse_data(dump(c)));
    }
    job.write(sse_openai_done());
}

}  // namespace kite::server
