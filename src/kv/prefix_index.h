// Prefix caching by chained block hashes: the hash of a full block covers the hash of the block
// before it (so every earlier token), its own tokens, and an extra key (0 today; a LoRA adapter id
// later), so equal hashes mean equal prefixes. The index maps such a hash to the block holding it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

namespace kite {

inline constexpr uint64_t kNoParentHash = 0x6b697465ull;  // the "parent" of a sequence's first block

// 64-bit chained hash of one full block. A collision (probability ~2^-64 per pair) would share a
// wrong prefix; that risk is accepted here as in most engines' default hashing.
uint64_t hash_block(uint64_t parent_hash, std::span<const int32_t> tokens, uint64_t extra_key);

class PrefixIndex {
public:
    std::optional<int> find(uint64_t hash) const;
    // Returns false (and changes nothing) when another block already holds this prefix.
    bool insert(uint64_t hash, int block);
    // Drops the entry only if it still points at `block`.
    void erase(uint64_t hash, int block);
    size_t size() const { return map_.size(); }

private:
    std::unordered_map<uint64_t, int> map_;
};

}  // namespace kite
