// Every endpoint, one line each. A pattern ending in "/*" matches one more path segment, which is
// passed to the handler (the model id of /v1/models/{id}).
#include "server/router.h"

#include <string_view>

#include "server/errors.h"
#include "server/handlers.h"

namespace kite::server {

namespace {

enum RouteFlags : unsigned { kNone = 0, kAuth = 1, kModel = 2 };  // kModel: needs the loaded model

struct Route {
    const char* method;
    const char* pattern;
    RouteHandler handler;
    unsigned flags;
};

constexpr Route kRoutes[] = {
    {"POST", "/",                    handle_native,        kAuth | kModel},
    {"POST", "/v1/completions",      handle_completions,   kAuth | kModel},
    {"POST", "/v1/chat/completions", handle_chat,          kAuth | kModel},
    {"POST", "/v1/responses",        handle_responses,     kAuth | kModel},
    {"POST", "/v1/load_lora_adapter",   handle_load_lora,   kAuth | kModel},
    {"POST", "/v1/unload_lora_adapter", handle_unload_lora, kAuth | kModel},
    {"GET",  "/v1/models",           handle_list_models,   kAuth},
    {"GET",  "/v1/models/*",         handle_get_model,     kAuth},
    {"POST", "/tokenize",            handle_tokenize,      kAuth | kModel},
    {"POST", "/detokenize",          handle_detokenize,    kAuth | kModel},
    {"GET",  "/health",              handle_health,        kNone},
    {"GET",  "/metrics",             handle_metrics,       kNone},
    {"GET",  "/worker_status",       handle_worker_status, kNone},
};

// Matches `path` against `pattern`; fills `param` for a trailing "/*".
bool match(std::string_view pattern, std::string_view path, std::string& param) {
    if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == "/*") {
        const std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the '/'
        if (path.size() <= prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
        param = std::string(path.substr(prefix.size()));
        return true;
    }
    return pattern == path;
}

bool authorized(const ServerState& st, const HttpRequest& req) {
    if (st.config.api_key.empty()) return true;
    const std::string auth = req.header("authorization");
    if (auth == "Bearer " + st.config.api_key) return true;
    return req.header("x-api-key") == st.config.api_key;
}

}  // namespace

void dispatch(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex) {
    std::string param;
    const Route* found = nullptr;
    bool path_known = false;
    // HEAD is answered like GET for the health checks of load balancers.
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    for (const Route& r : kRoutes) {
        std::string p;
        if (!match(r.pattern, req.path, p)) continue;
        path_known = true;
        if (method == r.method) {
            found = &r;
            param = std::move(p);
            break;
        }
    }
    if (!found) {
        if (path_known) return respond(st, req, *ex, error_response(405, "method " + req.method + " is not allowed on " + req.path));
        return respond_error(st, req, *ex, not_found("no route for " + req.method + " " + req.path));
    }
    if ((found->flags & kAuth) && !authorized(st, req)) {
        HttpResponse e = error_response(401, "invalid or missing API key (send the header Authorization: Bearer <key>)");
        e.headers.emplace_back("WWW-Authenticate", "Bearer");
        return respond(st, req, *ex, std::move(e));
    }
    if (found->flags & kModel) {
        if (!st.ready()) return respond_error(st, req, *ex, unavailable("the model is still loading; retry shortly"));
        if (st.draining()) return respond_error(st, req, *ex, unavailable("the server is shutting down"));
    }
    found->handler(st, req, std::move(ex), param);
}

}  // namespace kite::server
