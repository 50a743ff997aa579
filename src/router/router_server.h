// `kite router` as a function: an HTTP front with the same native and OpenAI routes as `kite serve`,
// each request forwarded to one healthy backend chosen by the policy (streams pass through chunk by
// chunk), plus its own /health, /metrics and /backends. A request is retried on another backend when
// its backend fails before answering; once a byte has reached the client it is not retried.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "router/backend_pool.h"
#include "server/http_server.h"

namespace kite {
class Tokenizer;
}

namespace kite::router {

struct RouterOptions {
    server::HttpServerOptions http;
    std::vector<std::string> backends;
    Policy policy = Policy::kRoundRobin;
    HeartbeatOptions heartbeat;
    int max_attempts = 3;          // backends tried for one request before 503
    int prefix_bytes = 256;        // bytes of the prompt that key prefix-cache routing
    int64_t drain_timeout_s = 600; // on SIGTERM, wait this long for requests in flight
    bool access_log = true;        // one line per forwarded request on stderr
    // Frontend/backend split: with a tokenizer (a model folder, .gguf or tokenizer.json, the same
    // the backends serve), text prompts of /v1/completions are tokenized here
    // and sent as token ids, so backends spend no CPU on text.
    std::string tokenizer_path;
    std::string chat_template_file;  // the backends' --chat-template, when they use one
};

// Returns the process exit code; errors are printed as one line on stderr.
int run_router(const RouterOptions& options);

// What the router reads of a request body to route it (exposed for tests).
RouteKey route_key_for(const std::string& path, const std::string& body, int prefix_bytes);

// The body with its text prompts replaced by token ids (as the backend would encode them: special
// tokens added), or nullopt when it has none to replace or must go as sent (echo, unparsable).
std::optional<std::string> pretokenize_body(const Tokenizer& tok, const std::string& path, const std::string& body);

}  // namespace kite::router
