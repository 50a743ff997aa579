// `kite router`: flags -> RouterOptions, then the router in src/router runs until SIGTERM.
#include <cstdio>

#include "cli/commands.h"
#include "cli/flags.h"
#include "router/router_server.h"

namespace kite::cli {

namespace {

Result<router::RouterOptions> options_from(const Flags& f) {
    router::RouterOptions o;
    o.backends = f.get_all("backend");
    KITE_ASSIGN_OR_RETURN(o.policy, router::parse_policy(f.get_or("policy", "round-robin")));
    o.http.host = f.get_or("host", "0.0.0.0");
    KITE_ASSIGN_OR_RETURN(int64_t port, f.get_int("port", 8000, 0, 65535));
    o.http.port = static_cast<int>(port);
    KITE_ASSIGN_OR_RETURN(int64_t threads, f.get_int("http-threads", 2, 1, 64));
    o.http.num_threads = static_cast<int>(threads);
    KITE_ASSIGN_OR_RETURN(int64_t interval, f.get_int("health-interval-ms", 1000, 10, 600000));
    o.heartbeat.interval_ms = static_cast<int>(interval);
    KITE_ASSIGN_OR_RETURN(int64_t misses, f.get_int("health-misses", 2, 1, 1000));
    o.heartbeat.max_misses = static_cast<int>(misses);
    o.heartbeat.backends_file = f.get_or("backends-file", "");
    KITE_ASSIGN_OR_RETURN(int64_t attempts, f.get_int("max-attempts", 3, 1, 100));
    o.max_attempts = static_cast<int>(attempts);
    KITE_ASSIGN_OR_RETURN(int64_t prefix, f.get_int("prefix-bytes", 256, 1, 1 << 20));
    o.prefix_bytes = static_cast<int>(prefix);
    KITE_ASSIGN_OR_RETURN(o.drain_timeout_s, f.get_int("drain-timeout-s", 600, 0, 86400));
    o.access_log = !f.get_switch("no-access-log");
    o.tokenizer_path = f.get_or("tokenizer", "");
    o.chat_template_file = f.get_or("chat-template", "");
    if (o.backends.empty() && o.heartbeat.backends_file.empty())
        return invalid_argument("--backend URL (repeatable) or --backends-file FILE is required");
    return o;
}

}  // namespace

int cmd_router(int argc, char** argv) {
    Flags f("router", "--backend URL [--backend URL]... [--policy round-robin|least-load|prefix-cache] [--port P]");
    f.add("backend", "URL", "a `kite serve` backend, http://host:port (repeatable)", "KITE_ROUTER_BACKENDS", true);
    f.add("backends-file", "FILE", "backend URLs, one per line; re-read when it changes", "KITE_ROUTER_BACKENDS_FILE");
    f.add("policy", "P", "round-robin (default), least-load or prefix-cache", "KITE_ROUTER_POLICY");
    f.add("host", "H", "address to listen on (default 0.0.0.0)", "KITE_HOST");
    f.add("port", "P", "port to listen on (default 8000; 0 picks a free one)", "KITE_ROUTER_PORT");
    f.add("http-threads", "N", "threads running the HTTP I/O loop (default 2)", "KITE_HTTP_THREADS");
    f.add("health-interval-ms", "MS", "heartbeat period: /health, /worker_status, /v1/models (default 1000)",
          "KITE_ROUTER_HEALTH_INTERVAL_MS");
    f.add("health-misses", "N", "missed heartbeats before a backend is taken out (default 2)", "KITE_ROUTER_HEALTH_MISSES");
    f.add("max-attempts", "N", "backends tried for a request that fails before any byte is sent (default 3)",
          "KITE_ROUTER_MAX_ATTEMPTS");
    f.add("prefix-bytes", "N", "prompt bytes hashed by prefix-cache routing (default 256)", "KITE_ROUTER_PREFIX_BYTES");
    f.add("drain-timeout-s", "S", "on SIGTERM, wait at most this long for requests in flight (default 600)",
          "KITE_DRAIN_TIMEOUT_S");
    f.add("tokenizer", "PATH", "tokenize text prompts here (model folder, .gguf or tokenizer.json; the backends' "
          "model) and send token ids to the backends (/v1/completions, plain chats)", "TOKENIZER_PATH");
    f.add("chat-template", "FILE", "with --tokenizer: the Jinja chat template the backends use (their --chat-template)",
          "CHAT_TEMPLATE");
    f.add_switch("no-access-log", "do not print one line per forwarded request on stderr", "KITE_NO_ACCESS_LOG");
    auto parsed = f.parse(argc, argv);
    if (!parsed.ok()) return fail("router", parsed.status());
    if (!*parsed) return 0;
    auto options = options_from(f);
    if (!options.ok()) return fail("router", options.status());
    return router::run_router(*options);
}

}  // namespace kite::cli
