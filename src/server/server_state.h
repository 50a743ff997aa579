// What every handler shares: configuration, the engine and tokenizer once loaded, metrics, and the
// in-flight request count behind the concurrency limit. One instance per `kite serve` process.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>
#include <string>

#include "engine/engine.h"
#include "server/lora_registry.h"
#include "server/metrics.h"
#include "server/request_builder.h"
#include "tokenizer/tokenizer.h"

namespace kite::structured {
class GrammarCompiler;
}

namespace kite::server {

struct ServerConfig {
    std::string served_model_name = "kite";
    std::string api_key;             // empty: no authentication
    std::string chat_template;       // overrides the tokenizer's when not empty
    int concurrency_limit = 0;       // generation requests in flight; 0: unlimited
    bool access_log = true;
    int64_t created = 0;             // unix time the server started (the Model object's "created")
};

class ServerState {
public:
    ServerConfig config;
    Metrics metrics;

    // Set once loading finished, before ready() turns true; read-only afterwards.
    std::shared_ptr<Engine> engine;
    std::shared_ptr<const Tokenizer> tokenizer;
    ModelLimits limits;
    std::vector<int32_t> eos_ids;  // the model's end-of-sequence ids
    // Structured output's grammar compiler, built on first use (structured_output.cpp).
    std::mutex grammar_mu;
    std::shared_ptr<structured::GrammarCompiler> grammar;
    LoraRegistry loras;  // LoRA adapters (lora_routes.cpp)
    // Open HTTP connections, for /metrics; set by the process that owns the HTTP server.
    std::function<int()> num_connections;

    bool ready() const { return ready_.load(std::memory_order_acquire); }
    void set_ready() { ready_.store(true, std::memory_order_release); }
    bool draining() const { return draining_.load(); }
    void set_draining() { draining_.store(true); }

    // A slot under the concurrency limit; false when the limit is reached.
    bool try_acquire() {
        const int n = in_flight_.fetch_add(1) + 1;
        if (config.concurrency_limit > 0 && n > config.concurrency_limit) {
            in_flight_.fetch_sub(1);
            return false;
        }
        return true;
    }
    void release() { in_flight_.fetch_sub(1); }
    int in_flight() const { return in_flight_.load(); }

    // "cmpl-<n>", "chatcmpl-<n>": unique per process.
    std::string next_id(const char* prefix) { return std::string(prefix) + std::to_string(next_id_.fetch_add(1)); }

    // The chat template to render: --chat-template, else the tokenizer's.
    const std::string& chat_template() const {
        return !config.chat_template.empty() || !tokenizer ? config.chat_template : tokenizer->chat_template();
    }

private:
    std::atomic<bool> ready_{false};
    std::atomic<bool> draining_{false};
    std::atomic<int> in_flight_{0};
    std::atomic<uint64_t> next_id_{1};
};

double now_seconds();  // steady clock
int64_t unix_time();

}  // namespace kite::server
