#include "router/policy.h"

#include <algorithm>
#include <map>

namespace kite::router {

Result<Policy> parse_policy(const std::string& s) {
    if (s == "round-robin") return Policy::kRoundRobin;
    if (s == "least-load") return Policy::kLeastLoad;
    if (s == "prefix-cache") return Policy::kPrefixCache;
    return invalid_argument("--policy: expected round-robin, least-load or prefix-cache, got '" + s + "'");
}

const char* policy_name(Policy p) {
    switch (p) {
        case Policy::kRoundRobin: return "round-robin";
        case Policy::kLeastLoad: return "least-load";
        case Policy::kPrefixCache: return "prefix-cache";
    }
    return "?";
}

uint64_t fnv1a64(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    // FNV's high bits barely move when only the last bytes differ ("b0#7" vs "b1#7"), which
    // clusters ring positions; a splitmix64 finalizer spreads them over the whole ring.
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

namespace {

// Load as the least-load policy compares it: the router's own outstanding tokens, plus the
// backend's reported waiting queue (requests other routers or clients sent it directly).
int64_t load_of(const Candidate& c) { return c.outstanding_tokens + 256 * int64_t(c.waiting); }

const Candidate& least_loaded(const std::vector<Candidate>& cs) {
    return *std::min_element(cs.begin(), cs.end(), [](const Candidate& a, const Candidate& b) {
        return load_of(a) != load_of(b) ? load_of(a) < load_of(b) : a.id < b.id;
    });
}

}  // namespace

std::optional<int> Picker::pick(const std::vector<Candidate>& all, const RouteKey& key) {
    if (all.empty()) return std::nullopt;
    // LoRA-/model-aware: prefer the backends that already have the adapter loaded.
    std::vector<Candidate> cands;
    if (!key.model.empty()) {
        for (const Candidate& c : all)
            if (c.serves_model) cands.push_back(c);
    }
    if (cands.empty()) cands = all;

    switch (policy_) {
        case Policy::kRoundRobin: return cands[next_.fetch_add(1) % cands.size()].index;
        case Policy::kLeastLoad: return least_loaded(cands).index;
        case Policy::kPrefixCache: break;
    }
    // Consistent hashing: 64 virtual nodes per backend, so adding or removing one backend moves
    // only the prefixes that hashed to it. The first node clockwise whose backend is under the load
    // bound wins; if every backend is over it, the least loaded one.
    std::map<uint64_t, const Candidate*> ring;
    int64_t total = 0;
    for (const Candidate& c : cands) {
        total += load_of(c);
        for (int v = 0; v < 64; ++v) ring.emplace(fnv1a64(c.id + "#" + std::to_string(v)), &c);
    }
    const double bound = load_bound_ * double(total + key.cost_tokens) / double(cands.size()) + key.cost_tokens;
    auto it = ring.lower_bound(fnv1a64(key.prefix));
    for (size_t seen = 0; seen < ring.size(); ++seen, ++it) {
        if (it == ring.end()) it = ring.begin();
        if (double(load_of(*it->second)) + key.cost_tokens <= bound) return it->second->index;
    }
    return least_loaded(cands).index;
}

}  // namespace kite::router
