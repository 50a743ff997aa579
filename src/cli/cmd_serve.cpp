// `kite serve`: flags (each with an environment variable, rtp-llm's name where it has one) ->
// ServeOptions, then the server in src/server runs until SIGTERM.
#include <cstdio>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/engine_flags.h"
#include "server/server.h"

namespace kite::cli {

namespace {

Result<server::ServeOptions> options_from(const Flags& f) {
    server::ServeOptions o;
    auto model = f.get("model");
    if (!model) return invalid_argument("--model PATH is required (or CHECKPOINT_PATH)");
    o.model_path = *model;
    o.tokenizer_path = f.get_or("tokenizer", "");
    o.chat_template_file = f.get_or("chat-template", "");
    o.model_type = f.get_or("model-type", "");
    KITE_ASSIGN_OR_RETURN(o.load, load_options_from_flags(f));
    o.http.host = f.get_or("host", "0.0.0.0");
    KITE_ASSIGN_OR_RETURN(int64_t port, f.get_int("port", 8088, 0, 65535));
    o.http.port = static_cast<int>(port);
    KITE_ASSIGN_OR_RETURN(int64_t threads, f.get_int("http-threads", 2, 1, 64));
    o.http.num_threads = static_cast<int>(threads);
    KITE_ASSIGN_OR_RETURN(int64_t body_mb, f.get_int("max-body-mb", 8, 1, 1024));
    o.http.max_body_bytes = static_cast<size_t>(body_mb) << 20;
    o.config.served_model_name = f.get_or("served-model-name", "");
    if (o.config.served_model_name.empty()) {
        std::string p = o.model_path;
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        o.config.served_model_name = p.substr(p.find_last_of('/') + 1);
    }
    // --lora-modules NAME=PATH, repeatable; one value may also list several, comma-separated.
    for (const std::string& v : f.get_all("lora-modules")) {
        size_t start = 0;
        while (start <= v.size()) {
            const size_t comma = v.find(',', start);
            const std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            const size_t eq = item.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
                return invalid_argument("--lora-modules: expected NAME=PATH, got '" + item + "'");
            o.lora_modules.emplace_back(item.substr(0, eq), item.substr(eq + 1));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    KITE_ASSIGN_OR_RETURN(int64_t max_loras, f.get_int("max-loras", 8, 1, 4096));
    o.max_loras = static_cast<int>(max_loras);
    KITE_ASSIGN_OR_RETURN(int64_t max_rank, f.get_int("max-lora-rank", 64, 1, 4096));
    o.max_lora_rank = static_cast<int>(max_rank);
    if (static_cast<int64_t>(o.lora_modules.size()) > max_loras)
        return invalid_argument("--lora-modules: " + std::to_string(o.lora_modules.size()) + " adapters exceed --max-loras " +
                                std::to_string(max_loras));
    o.config.api_key = f.get_or("api-key", "");
    KITE_ASSIGN_OR_RETURN(int64_t limit, f.get_int("concurrency-limit", 0, 0, 1 << 20));
    o.config.concurrency_limit = static_cast<int>(limit);
    o.config.access_log = !f.get_switch("no-access-log");
    KITE_ASSIGN_OR_RETURN(o.drain_timeout_s, f.get_int("drain-timeout-s", 600, 0, 86400));

    KITE_ASSIGN_OR_RETURN(o.engine, engine_config_from_flags(f));
    return o;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
    Flags f("serve", "--model PATH [--host H] [--port P] [--served-model-name NAME] [--api-key KEY] ...");
    f.add("model", "PATH", "model folder (config.json + safetensors) or .gguf file", "CHECKPOINT_PATH");
    f.add("tokenizer", "PATH", "tokenizer.json or folder, when not the model's", "TOKENIZER_PATH");
    f.add("model-type", "TYPE", "expected config.json model_type (e.g. llama); a mismatch is an error", "MODEL_TYPE");
    f.add("host", "H", "address to listen on (default 0.0.0.0)", "KITE_HOST");
    f.add("port", "P", "port to listen on (default 8088; 0 picks a free one)", "START_PORT");
    f.add("lora-modules", "NAME=PATH", "a PEFT LoRA adapter a request selects with \"model\": NAME", "", /*repeated=*/true);
    f.add("max-loras", "N", "LoRA adapters held at once; loading more evicts the least recently used (default 8)");
    f.add("max-lora-rank", "R", "largest LoRA rank accepted (default 64)");
    f.add("served-model-name", "NAME", "model id in the OpenAI API (default: the model folder's name)",
          "SERVED_MODEL_NAME");
    f.add("api-key", "KEY", "require 'Authorization: Bearer KEY' on the API routes", "KITE_API_KEY");
    f.add("chat-template", "FILE", "Jinja chat template to use instead of the tokenizer's", "CHAT_TEMPLATE");
    f.add("concurrency-limit", "N", "generation requests in flight before 429 (default 0: no limit)",
          "CONCURRENCY_LIMIT");
    f.add("http-threads", "N", "threads running the HTTP I/O loop (default 2)", "KITE_HTTP_THREADS");
    f.add("max-body-mb", "M", "largest request body in MiB; larger gets 413 (default 8)", "KITE_MAX_BODY_MB");
    f.add("drain-timeout-s", "S", "on SIGTERM, wait at most this long for requests in flight (default 600)",
          "KITE_DRAIN_TIMEOUT_S");
    f.add_switch("no-access-log", "do not print one line per request on stderr", "KITE_NO_ACCESS_LOG");
    declare_engine_flags(f);  // last: its --help section runs to the end
    auto parsed = f.parse(argc, argv);
    if (!parsed.ok()) return fail("serve", parsed.status());
    if (!*parsed) return 0;
    auto options = options_from(f);
    if (!options.ok()) return fail("serve", options.status());
    return server::run_server(*options);
}

}  // namespace kite::cli
