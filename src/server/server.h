// `kite serve` as a function: listen first (so /health answers 503 while loading), load the model,
// tokenizer and engine in the background, serve, and on SIGTERM drain what is in flight and exit 0.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "model/model.h"
#include "server/http_server.h"
#include "server/server_state.h"

namespace kite::server {

struct ServeOptions {
    std::string model_path;
    std::string tokenizer_path;       // empty: from the model
    std::string chat_template_file;   // empty: the tokenizer's template
    std::string model_type;           // when set, must equal the checkpoint's model_type
    LoadOptions load;                 // device, quantized GGUF weights
    int64_t drain_timeout_s = 600;    // SIGTERM waits at most this long for requests in flight
    HttpServerOptions http;
    ServerConfig config;
    EngineConfig engine;
    std::vector<std::pair<std::string, std::string>> lora_modules;  // --lora-modules NAME=PATH
    int max_loras = 8;
    int max_lora_rank = 64;
};

// Returns the process exit code; errors are printed as one line on stderr.
int run_server(const ServeOptions& options);

}  // namespace kite::server
