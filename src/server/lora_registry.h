// The LoRA adapters a server holds (--lora-modules, POST /v1/load_lora_adapter): at most
// --max-loras at once, the least recently used one evicted to make room (requests in flight keep
// theirs alive), ranks above --max-lora-rank refused. A request names one with "model" (OpenAI) or
// "adapter_name" (native API).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/lora.h"

namespace kite::server {

class LoraRegistry {
public:
    // `unavailable`: why adapters cannot be used at all (empty: they can).
    void configure(int max_loras, int max_rank, std::string unavailable = "") {
        max_loras_ = max_loras;
        max_rank_ = max_rank;
        unavailable_ = std::move(unavailable);
    }
    // Loads `path` under `name`; an existing name is an error.
    Status load(const std::string& name, const std::string& path);
    Status unload(const std::string& name);
    bool has(const std::string& name) const {
        std::lock_guard<std::mutex> lock(mu_);
        return slots_.count(name) > 0;
    }
    // Null when not loaded; marks it used.
    std::shared_ptr<const LoraAdapter> get(const std::string& name);
    struct Entry {
        std::string name, path;
    };
    std::vector<Entry> list() const;

private:
    struct Slot {
        std::shared_ptr<const LoraAdapter> adapter;
        std::string path;
        uint64_t last_used = 0;
    };
    mutable std::mutex mu_;
    std::map<std::string, Slot> slots_;
    uint64_t clock_ = 0;
    int max_loras_ = 8, max_rank_ = 64;
    std::string unavailable_;
};

}  // namespace kite::server
