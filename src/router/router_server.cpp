#include "router/router_server.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <cstdio>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "model/gguf_tokenizer.h"
#include "router/chat_split.h"
#include "server/errors.h"
#include "tokenizer/tokenizer.h"
#include "server/http_client.h"

namespace kite::router {

using nlohmann::json;
using server::Exchange;
using server::HttpRequest;
using server::HttpResponse;

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Deepest bracket nesting outside strings: the router reads bodies only to route them, and refuses
// to build a JSON value deeper than a real request ever is (a deep value is a stack hazard).
int json_depth(const std::string& s) {
    int depth = 0, max_depth = 0;
    bool in_str = false, esc = false;
    for (char c : s) {
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            max_depth = std::max(max_depth, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return max_depth;
}

void append_text(const json& v, std::string& out) {
    if (v.is_string()) {
        out += v.get<std::string>();
    } else if (v.is_array()) {
        for (const json& e : v) {
            if (e.is_object() && e.contains("text")) append_text(e["text"], out);
            else if (e.is_object() && e.contains("content")) append_text(e["content"], out);
            else if (e.is_number_integer()) out += std::to_string(e.get<int64_t>()) + ",";
            else append_text(e, out);
            out += "\n";
        }
    }
}

// Rewrites complete server-sent events of a completion stream into chat chunks.
std::string chat_events(const std::string& events, bool& first) {
    std::string out;
    size_t pos = 0;
    while (pos < events.size()) {
        size_t end = events.find("\n\n", pos);
        if (end == std::string::npos) end = events.size();
        std::string_view ev(events.data() + pos, end - pos);
        pos = end + 2;
        if (ev.rfind("data:", 0) != 0) continue;
        ev.remove_prefix(5);
        while (!ev.empty() && ev.front() == ' ') ev.remove_prefix(1);
        out += completion_event_to_chat(ev, first && ev != "[DONE]");
        if (ev != "[DONE]") first = false;
    }
    return out;
}

void respond(Exchange& ex, int status, const json& body) {
    HttpResponse r;
    r.status = status;
    r.body = body.dump();
    ex.reply(std::move(r));
}

void respond_error(Exchange& ex, int status, const std::string& message) {
    ex.reply(server::error_response(status, message));
}

}  // namespace

RouteKey route_key_for(const std::string& path, const std::string& body, int prefix_bytes) {
    RouteKey key;
    key.cost_tokens = 128;
    if (body.empty() || json_depth(body) > 64) return key;
    const json j = json::parse(body, nullptr, false);
    if (!j.is_object()) return key;
    if (j.contains("model") && j["model"].is_string()) key.model = j["model"].get<std::string>();
    if (j.contains("adapter_name") && j["adapter_name"].is_string()) key.model = j["adapter_name"].get<std::string>();
    std::string text;
    if (j.contains("instructions")) append_text(j["instructions"], text);
    for (const char* f : {"messages", "prompt", "prompt_batch", "input", "text"}) {
        if (!j.contains(f)) continue;
        if (std::string(f) == "messages" && j[f].is_array()) {
            for (const json& m : j[f]) {
                if (!m.is_object()) continue;
                if (m.contains("role") && m["role"].is_string()) text += m["role"].get<std::string>() + ": ";
                if (m.contains("content")) append_text(m["content"], text);
                text += "\n";
            }
        } else {
            append_text(j[f], text);
        }
    }
    int64_t max_tokens = -1;
    for (const char* f : {"max_tokens", "max_completion_tokens", "max_output_tokens", "max_new_tokens"})
        if (j.contains(f) && j[f].is_number_integer()) max_tokens = j[f].get<int64_t>();
    if (j.contains("generate_config") && j["generate_config"].is_object()) {
        const json& g = j["generate_config"];
        if (g.contains("max_new_tokens") && g["max_new_tokens"].is_number_integer())
            max_tokens = g["max_new_tokens"].get<int64_t>();
    }
    key.cost_tokens = int64_t(text.size() / 4) + (max_tokens > 0 ? max_tokens : 128);
    key.prefix = text.substr(0, static_cast<size_t>(std::max(1, prefix_bytes)));
    (void)path;
    return key;
}

std::optional<std::string> pretokenize_body(const Tokenizer& tok, const std::string& path, const std::string& body) {
    // The native API takes text prompts only, and chat prompts need the backend's template: only
    // OpenAI completions carry token ids.
    if (path != "/v1/completions" || body.empty() || json_depth(body) > 64) return std::nullopt;
    json j = json::parse(body, nullptr, false);
    if (!j.is_object() || (j.contains("echo") && j["echo"] == true)) return std::nullopt;
    bool changed = false;
    auto encode = [&](json& v) -> bool {
        auto ids = tok.encode(v.get<std::string>(), /*add_special_tokens=*/true);
        if (!ids.ok() || ids->empty()) return false;  // the backend reports the error itself
        v = *ids;
        return changed = true;
    };
    if (j.contains("prompt")) {
        json& p = j["prompt"];
        if (p.is_string()) {
            if (!encode(p)) return std::nullopt;
        } else if (p.is_array() && !p.empty() && p.front().is_string()) {
            for (json& e : p) {
                if (!e.is_string() || !encode(e)) return std::nullopt;
            }
        }
    }
    if (!changed) return std::nullopt;
    return j.dump();
}

namespace {

struct Router {
    RouterOptions opts;
    BackendPool pool;
    std::atomic<int> in_flight{0};
    std::atomic<int64_t> retries{0}, no_backend{0}, cut_off{0};

    std::shared_ptr<Tokenizer> tokenizer;  // set with --tokenizer (frontend/backend split)
    std::string chat_template;              // --chat-template file's text; empty: the tokenizer's
    std::atomic<int64_t> pretokenized{0};

    explicit Router(const RouterOptions& o) : opts(o), pool(o.policy, o.heartbeat) {}

    void handle(const HttpRequest& req, std::shared_ptr<Exchange> ex);
    void forward(HttpRequest req, std::shared_ptr<Exchange> ex);
    void backends_route(const HttpRequest& req, std::shared_ptr<Exchange> ex);
    std::string metrics() const;
};

std::string Router::metrics() const {
    std::string s = pool.metrics_text();
    s += "# HELP kite_router_in_flight Requests being forwarded.\n# TYPE kite_router_in_flight gauge\n";
    s += "kite_router_in_flight " + std::to_string(in_flight.load()) + "\n";
    s += "# HELP kite_router_retries_total Requests re-sent to another backend after a failure.\n# TYPE kite_router_retries_total counter\n";
    s += "kite_router_retries_total " + std::to_string(retries.load()) + "\n";
    s += "# HELP kite_router_no_backend_total Requests answered 503 for want of a healthy backend.\n# TYPE kite_router_no_backend_total counter\n";
    s += "kite_router_no_backend_total " + std::to_string(no_backend.load()) + "\n";
    s += "# HELP kite_router_pretokenized_total Requests whose text prompts the router tokenized.\n# TYPE kite_router_pretokenized_total counter\n";
    s += "kite_router_pretokenized_total " + std::to_string(pretokenized.load()) + "\n";
    s += "# HELP kite_router_cut_off_total Streams whose backend failed after the first byte.\n# TYPE kite_router_cut_off_total counter\n";
    s += "kite_router_cut_off_total " + std::to_string(cut_off.load()) + "\n";
    return s;
}

void Router::backends_route(const HttpRequest& req, std::shared_ptr<Exchange> ex) {
    if (req.path == "/backends" && req.method == "GET") return respond(*ex, 200, pool.describe());
    if (req.path == "/backends" && req.method == "POST") {
        const json j = json_depth(req.body) > 8 ? json() : json::parse(req.body, nullptr, false);
        if (!j.is_object() || !j.contains("url") || !j["url"].is_string())
            return respond_error(*ex, 400, "body: expected {\"url\": \"http://host:port\"}");
        // add() runs the first heartbeat (network I/O): off the I/O thread.
        in_flight++;
        std::thread([this, ex, url = j["url"].get<std::string>()] {
            auto id = pool.add(url);
            if (!id.ok()) respond_error(*ex, 400, id.status().message());
            else respond(*ex, 201, {{"id", *id}, {"url", url}});
            in_flight--;
        }).detach();
        return;
    }
    const std::string prefix = "/backends/";
    if (req.path.rfind(prefix, 0) == 0 && req.method == "DELETE") {
        Status s = pool.remove(req.path.substr(prefix.size()));
        if (!s.is_ok()) return respond_error(*ex, 404, s.message());
        return respond(*ex, 200, {{"deleted", req.path.substr(prefix.size())}});
    }
    respond_error(*ex, 405, req.method + " " + req.path + ": use GET/POST /backends or DELETE /backends/{id}");
}

void Router::handle(const HttpRequest& req, std::shared_ptr<Exchange> ex) {
    if (req.path == "/health" && req.method == "GET") {
        const int n = pool.num_healthy();
        if (n == 0) return respond_error(*ex, 503, "no healthy backend");
        return respond(*ex, 200, {{"status", "ok"}, {"healthy_backends", n}});
    }
    if (req.path == "/metrics" && req.method == "GET") {
        HttpResponse r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = metrics();
        return ex->reply(std::move(r));
    }
    if (req.path == "/backends" || req.path.rfind("/backends/", 0) == 0) return backends_route(req, ex);
    if (req.path == "/v1/models" && req.method == "GET") {
        if (pool.num_healthy() == 0) return respond_error(*ex, 503, "no healthy backend");
        json data = json::array();
        for (const std::string& id : pool.models())
            data.push_back({{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "kite"}});
        return respond(*ex, 200, {{"object", "list"}, {"data", data}});
    }
    in_flight++;
    std::thread([this, req, ex] {
        forward(req, ex);
        in_flight--;
    }).detach();
}

// Runs on its own thread: blocking I/O towards the backend, non-blocking writes towards the client
// (Exchange posts to the connection's strand).
void Router::forward(HttpRequest req, std::shared_ptr<Exchange> ex) {
    const double t0 = now_s();
    auto gone = std::make_shared<std::atomic<bool>>(false);
    ex->on_close([gone] { gone->store(true); });
    const RouteKey key = route_key_for(req.path, req.body, opts.prefix_bytes);

    server::HttpClientRequest out;
    out.method = req.method;
    out.target = req.target;
    out.body = req.body;
    bool chat_split = false;  // a chat sent as a completion of token ids: answers are rewritten back
    if (tokenizer && req.method == "POST") {
        if (auto ids_body = pretokenize_body(*tokenizer, req.path, req.body)) {
            out.body = std::move(*ids_body);
            pretokenized++;
        } else if (req.path == "/v1/chat/completions") {
            if (auto c = chat_to_completion(*tokenizer, chat_template, req.body)) {
                out.target = "/v1/completions";
                out.body = std::move(c->body);
                chat_split = true;
                pretokenized++;
            }
        }
    }
    for (const char* h : {"authorization", "content-type", "accept", "x-request-id"}) {
        const std::string v = req.header(h);
        if (!v.empty()) out.headers.emplace_back(h, v);
    }

    std::set<std::string> tried;
    std::string last_error = "no healthy backend";
    for (int attempt = 0; attempt < opts.max_attempts; ++attempt) {
        std::unique_ptr<Lease> lease = pool.acquire(key, tried);
        if (!lease) break;
        tried.insert(lease->id());
        if (attempt > 0) retries++;

        server::HttpClientHead head;
        bool streaming = false, retry_503 = false, first_event = true;
        std::string body;
        bool head_in = false;
        Status s = server::http_fetch(
            lease->endpoint(), out,
            [&](const server::HttpClientHead& h) {
                head = h;
                // A backend that is loading or draining answers 503 before doing anything: try another.
                retry_503 = h.status == 503;
                streaming = !retry_503 && h.content_type.rfind("text/event-stream", 0) == 0;
                if (streaming) ex->start_stream(h.status, h.content_type);
            },
            [&](std::string_view piece) {
                if (gone->load()) return false;  // closing the backend socket cancels its job
                body.append(piece);
                if (streaming) {
                    // Whole server-sent events only, so a backend that dies mid-event leaves no
                    // half event in front of the error event below.
                    const size_t end = body.rfind("\n\n");
                    if (end != std::string::npos) {
                        ex->write(chat_split ? chat_events(body.substr(0, end + 2), first_event) : body.substr(0, end + 2));
                        body.erase(0, end + 2);
                    }
                }
                return true;
            },
            &head_in);
        if (!head_in) {  // nothing reached the client: safe to retry elsewhere
            lease->report_failure();
            last_error = s.message();
            continue;
        }
        if (retry_503 && s.is_ok()) {
            last_error = lease->endpoint().url() + " answered 503";
            continue;
        }
        if (streaming) {
            if (s.is_ok() && !body.empty()) ex->write(chat_split ? chat_events(body, first_event) : std::move(body));
            if (!s.is_ok() && !gone->load()) {
                cut_off++;
                ex->write("data: " + json{{"error", {{"message", "backend failed mid-stream: " + s.message()},
                                                    {"type", "server_error"}, {"code", 502}}}}.dump() + "\n\n");
            }
            ex->end();
        } else if (!s.is_ok()) {
            cut_off++;
            respond_error(*ex, 502, "backend " + lease->endpoint().url() + " failed: " + s.message());
        } else {
            HttpResponse r;
            r.status = head.status;
            r.content_type = head.content_type.empty() ? "application/json" : head.content_type;
            r.body = chat_split && head.status == 200 ? completion_to_chat(body) : std::move(body);
            if (auto it = head.headers.find("retry-after"); it != head.headers.end()) r.headers.emplace_back("Retry-After", it->second);
            ex->reply(std::move(r));
        }
        if (opts.access_log)
            std::fprintf(stderr, "kite router: %s %s -> %s %d %.1f ms\n", req.method.c_str(), req.path.c_str(),
                         lease->endpoint().url().c_str(), head.status, (now_s() - t0) * 1e3);
        return;
    }
    no_backend++;
    respond_error(*ex, 503, "no backend could take the request (" + last_error + ")");
}

}  // namespace

int run_router(const RouterOptions& options) {
    Router router(options);
    if (!options.tokenizer_path.empty()) {
        auto tok = load_model_tokenizer(options.tokenizer_path);
        if (!tok.ok()) {
            std::fprintf(stderr, "kite router: --tokenizer: %s\n", tok.status().message().c_str());
            return 1;
        }
        router.tokenizer = *tok;
    }
    if (!options.chat_template_file.empty()) {
        std::ifstream in(options.chat_template_file, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "kite router: --chat-template: cannot read %s\n", options.chat_template_file.c_str());
            return 1;
        }
        router.chat_template.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    for (const std::string& url : options.backends) {
        auto id = router.pool.add(url);
        if (!id.ok()) {
            std::fprintf(stderr, "kite router: %s\n", id.status().message().c_str());
            return 1;
        }
    }
    server::HttpServerOptions http = options.http;
    http.make_error = [](int status, const std::string& message) { return server::error_response(status, message); };
    auto srv = server::HttpServer::create(http, [&router](const HttpRequest& req, std::shared_ptr<Exchange> ex) {
        router.handle(req, std::move(ex));
    });
    if (!srv.ok()) {
        std::fprintf(stderr, "kite router: %s\n", srv.status().message().c_str());
        return 1;
    }
    server::HttpServer& s = **srv;
    router.pool.start();
    std::fprintf(stderr, "kite router: listening on %s:%d, policy %s, %d backend(s) healthy\n", http.host.c_str(),
                 s.port(), policy_name(options.policy), router.pool.num_healthy());
    s.on_signal([&](int) {
        s.stop_accepting();
        // Drain: poll until the requests in flight are done (or the timeout), then stop.
        auto deadline = std::make_shared<double>(now_s() + double(options.drain_timeout_s));
        auto check = std::make_shared<std::function<void()>>();
        *check = [&, deadline, check] {
            if (router.in_flight.load() == 0 || now_s() > *deadline) s.stop();
            else s.run_after(50, *check);
        };
        (*check)();
    });
    s.run();
    router.pool.stop();
    return 0;
}

}  // namespace kite::router
