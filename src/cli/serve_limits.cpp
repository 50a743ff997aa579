// The flags of `kite serve`'s limits against hostile clients (docs/server.md, "Limits").
#include "cli/serve_limits.h"

namespace kite::cli {

void declare_limit_flags(Flags& f) {
    f.add("max-connections", "N", "open connections; more get 503 and are closed (default 8192)", "KITE_MAX_CONNECTIONS");
    f.add("max-buffered-body-mb", "M", "request bodies held by all connections together, MiB; more: 503 (default 256)",
          "KITE_MAX_BUFFERED_BODY_MB");
    f.add("max-header-kb", "K", "largest request head in KiB; larger gets 431 (default 64)", "KITE_MAX_HEADER_KB");
    f.add("request-timeout-s", "S", "a request must arrive whole within S seconds of its first byte; else 408 (default 60)",
          "KITE_REQUEST_TIMEOUT_S");
    f.add("max-json-depth", "N", "nesting depth of request JSON; deeper gets 400 (default 64)", "KITE_MAX_JSON_DEPTH");
    f.add("max-prompt-bytes", "N", "prompt/message text bytes before tokenizing; more gets 400 (default 4194304)",
          "KITE_MAX_PROMPT_BYTES");
    f.add("max-waiting-requests", "N", "engine requests waiting to run; more get 429 + Retry-After (default 1024; 0: no limit)",
          "KITE_MAX_WAITING_REQUESTS");
    f.add("worker-threads", "N", "threads that parse, render and tokenize requests off the I/O threads (default 2)",
          "KITE_WORKER_THREADS");
}

Status read_limit_flags(const Flags& f, server::ServeOptions& o) {
    KITE_ASSIGN_OR_RETURN(int64_t conns, f.get_int("max-connections", 8192, 1, 1 << 22));
    o.http.max_connections = static_cast<int>(conns);
    KITE_ASSIGN_OR_RETURN(int64_t buffered, f.get_int("max-buffered-body-mb", 256, 1, 1 << 20));
    o.http.max_buffered_body_bytes = static_cast<size_t>(buffered) << 20;
    KITE_ASSIGN_OR_RETURN(int64_t header_kb, f.get_int("max-header-kb", 64, 1, 1 << 16));
    o.http.max_header_bytes = static_cast<size_t>(header_kb) << 10;
    KITE_ASSIGN_OR_RETURN(int64_t timeout, f.get_int("request-timeout-s", 60, 1, 86400));
    o.http.request_timeout_s = static_cast<int>(timeout);
    KITE_ASSIGN_OR_RETURN(int64_t depth, f.get_int("max-json-depth", 64, 2, 10000));
    o.config.max_json_depth = static_cast<int>(depth);
    KITE_ASSIGN_OR_RETURN(int64_t prompt, f.get_int("max-prompt-bytes", 4 << 20, 1, int64_t{1} << 32));
    o.config.max_prompt_bytes = static_cast<size_t>(prompt);
    KITE_ASSIGN_OR_RETURN(int64_t waiting, f.get_int("max-waiting-requests", 1024, 0, 1 << 24));
    o.config.max_waiting_requests = static_cast<int>(waiting);
    KITE_ASSIGN_OR_RETURN(int64_t workers, f.get_int("worker-threads", 2, 1, 256));
    o.num_workers = static_cast<int>(workers);
    return Status::ok();
}

}  // namespace kite::cli
