// How `kite router` picks a backend for a request: round-robin, least-load, or prefix-cache-aware
// (consistent hashing of the prompt's first bytes with a load bound, as SGLang's cache-aware router
// and "consistent hashing with bounded loads" do). Every policy first narrows the candidates to the
// backends that already serve the requested model or LoRA adapter, when any does.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace kite::router {

enum class Policy { kRoundRobin, kLeastLoad, kPrefixCache };
Result<Policy> parse_policy(const std::string& s);  // round-robin | least-load | prefix-cache
const char* policy_name(Policy p);

// What the router knows of a request before forwarding it.
struct RouteKey {
    std::string model;        // OpenAI "model" / native "adapter_name"; empty: any
    std::string prefix;       // the prompt's first bytes (rendered text or message contents)
    int64_t cost_tokens = 1;  // estimated prompt + output tokens, for least-load accounting
};

// A healthy backend as a policy sees it.
struct Candidate {
    int index = 0;                  // position in the pool's table (returned by pick)
    std::string id;                 // stable name, hashed onto the ring
    int64_t outstanding_tokens = 0; // router's own accounting of requests in flight
    int waiting = 0;                // from the last heartbeat (/worker_status)
    bool serves_model = false;      // key.model is listed in its /v1/models
};

class Picker {
public:
    explicit Picker(Policy p, double load_bound = 1.25) : policy_(p), load_bound_(load_bound) {}
    Policy policy() const { return policy_; }
    // Index (Candidate::index) of the chosen backend; nullopt when `cands` is empty.
    std::optional<int> pick(const std::vector<Candidate>& cands, const RouteKey& key);

private:
    Policy policy_;
    double load_bound_;  // prefix-cache: a backend above load_bound x the mean load is skipped
    std::atomic<uint64_t> next_{0};
};

uint64_t fnv1a64(std::string_view s);

}  // namespace kite::router
