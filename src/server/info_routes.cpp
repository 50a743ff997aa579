// The endpoints that generate nothing: models, tokenize/detokenize, health, metrics, worker status.
#include "server/api_common.h"
#include "server/json_fields.h"

namespace kite::server {

namespace {

using nlohmann::json;

json model_json(const ServerState& st) {
    json m = {{"id", st.config.served_model_name}, {"object", "model"}, {"created", st.config.created},
              {"owned_by", "kite"}};
    if (st.ready()) m["max_model_len"] = st.limits.max_model_len;
    return m;
}

}  // namespace

// vLLM lists each LoRA adapter as a model whose parent is the base.
static json adapter_json(const ServerState& st, const LoraRegistry::Entry& e) {
    return {{"id", e.name}, {"object", "model"}, {"created", st.config.created}, {"owned_by", "kite"},
            {"root", e.path}, {"parent", st.config.served_model_name}};
}

void handle_list_models(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    json data = json::array({model_json(st)});
    for (const auto& e : st.loras.list()) data.push_back(adapter_json(st, e));
    respond_json(st, req, *ex, {{"object", "list"}, {"data", data}});
}

void handle_get_model(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string& model) {
    for (const auto& e : st.loras.list())
        if (e.name == model) return respond_json(st, req, *ex, adapter_json(st, e));
    if (model != st.config.served_model_name)
        return respond_error(st, req, *ex, not_found("model '" + model + "' does not exist; this server serves '" +
                                                     st.config.served_model_name + "'"));
    respond_json(st, req, *ex, model_json(st));
}

// vLLM's shape ({"tokens": ids, "count", "max_model_len"}) plus rtp-llm's token_ids.
void handle_tokenize(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    if (Status s = check_model(st, *body); !s.is_ok()) return respond_error(st, req, *ex, s);
    auto prompt = get_string(*body, "prompt");
    if (!prompt.ok()) return respond_error(st, req, *ex, prompt.status());
    if (!*prompt) return respond_error(st, req, *ex, invalid_argument("prompt: is required (a string)"));
    auto add = get_bool(*body, "add_special_tokens");
    if (!add.ok()) return respond_error(st, req, *ex, add.status());
    auto ids = encode_text(st, **prompt, add->value_or(true), "prompt");
    if (!ids.ok()) return respond_error(st, req, *ex, ids.status());
    json strs = json::array();
    for (int32_t id : *ids) strs.push_back(st.tokenizer->id_to_token(id));
    respond_json(st, req, *ex, {{"tokens", *ids}, {"token_ids", *ids}, {"token_strs", strs}, {"count", ids->size()},
                                {"max_model_len", st.limits.max_model_len}});
}

void handle_detokenize(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    if (Status s = check_model(st, *body); !s.is_ok()) return respond_error(st, req, *ex, s);
    if (!body->contains("tokens")) return respond_error(st, req, *ex, invalid_argument("tokens: is required (a list of token ids)"));
    auto ids = get_int_list(*body, "tokens", 0, st.limits.vocab_size - 1, 1u << 20);
    if (!ids.ok()) return respond_error(st, req, *ex, ids.status());
    auto text = st.tokenizer->decode(*ids, /*skip_special_tokens=*/false);
    if (!text.ok()) return respond_error(st, req, *ex, invalid_argument("tokens: " + text.status().message()));
    respond_json(st, req, *ex, {{"prompt", *text}});
}

void handle_health(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    if (!st.ready()) return respond_error(st, req, *ex, unavailable("the model is still loading"));
    if (st.draining()) return respond_error(st, req, *ex, unavailable("the server is shutting down"));
    respond_json(st, req, *ex, "ok");
}

void handle_metrics(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    const int connections = st.num_connections ? st.num_connections() : -1;
    if (st.ready()) {
        const EngineStats stats = st.engine->stats();
        r.body = st.metrics.render(&stats, st.in_flight(), connections);
    } else {
        r.body = st.metrics.render(nullptr, st.in_flight(), connections);
    }
    respond(st, req, *ex, std::move(r));
}

// rtp-llm's worker status, reduced to what kite knows.
void handle_worker_status(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    json j = {{"alive", st.ready() && !st.draining()}, {"loading", !st.ready()}, {"draining", st.draining()},
              {"running_query_len", st.in_flight()}};
    if (st.config.concurrency_limit > 0) j["available_concurrency"] = st.config.concurrency_limit - st.in_flight();
    if (st.ready()) {
        const EngineStats s = st.engine->stats();
        j["running_requests"] = s.num_running;
        j["waiting_query_len"] = s.num_waiting;
        j["total_kv_cache_blocks"] = s.num_kv_blocks;
        j["available_kv_cache_blocks"] = s.num_free_kv_blocks;
        j["iterate_count"] = s.num_steps;
    }
    respond_json(st, req, *ex, j);
}

}  // namespace kite::server
