// Chained block hashing and the hash -> block map (see prefix_index.h).
#include "kv/prefix_index.h"

namespace kite {
namespace {

// splitmix64's finalizer: a cheap, well-mixed 64-bit permutation.
uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

}  // namespace

uint64_t hash_block(uint64_t parent_hash, std::span<const int32_t> tokens, uint64_t extra_key) {
    uint64_t h = mix(parent_hash);
    for (int32_t t : tokens) h = mix(h ^ static_cast<uint32_t>(t));
    h = mix(h ^ mix(extra_key) ^ tokens.size());
    return h;
}

std::optional<int> PrefixIndex::find(uint64_t hash) const {
    auto it = map_.find(hash);
    if (it == map_.end()) return std::nullopt;
    return it->second;
}

bool PrefixIndex::insert(uint64_t hash, int block) { return map_.emplace(hash, block).second; }

void PrefixIndex::erase(uint64_t hash, int block) {
    auto it = map_.find(hash);
    if (it != map_.end() && it->second == block) map_.erase(it);
}

}  // namespace kite
