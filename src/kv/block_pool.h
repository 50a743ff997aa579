// The KV block pool: which block ids are in use (reference counts) and the order in which free
// blocks are handed out again. Free blocks that still hold a cached prefix are reused only when no
// never-cached block is left, least recently freed first, so prefixes survive as long as memory
// allows. Ids and counts only: the K/V memory itself belongs to the runner's KvCache.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <vector>

namespace kite {

class BlockPool {
public:
    explicit BlockPool(int num_blocks);

    struct Allocation {
        int block = -1;
        std::optional<uint64_t> evicted_hash;  // the prefix hash this block held, now gone
    };
    // A free block with reference count 1, or nullopt when every block is referenced.
    std::optional<Allocation> allocate();
    // Another reference; 0 -> 1 takes a cached free block back into use (a prefix-cache hit).
    void ref(int block);
    // One reference less; at 0 the block goes to the tail of its free list.
    void unref(int block);
    // Marks a full block as holding the prefix `hash` (it stays findable while free).
    void set_hash(int block, uint64_t hash);
    // Forgets the hash, e.g. when the index keeps another block for the same prefix.
    void clear_hash(int block);

    int ref_count(int block) const { return blocks_[block].ref_count; }
    std::optional<uint64_t> hash(int block) const;
    int num_blocks() const { return static_cast<int>(blocks_.size()); }
    // Free blocks, including those that still hold a cached prefix.
    int num_free() const { return static_cast<int>(free_plain_.size() + free_cached_.size()); }
    int num_free_cached() const { return static_cast<int>(free_cached_.size()); }
    int64_t num_evictions() const { return num_evictions_; }

private:
    struct Block {
        int ref_count = 0;
        bool has_hash = false;
        uint64_t hash = 0;
        bool in_free_list = false;
        std::list<int>::iterator pos;  // valid while in_free_list
    };
    void remove_from_free(int block);

    std::vector<Block> blocks_;
    std::list<int> free_plain_;   // never cached (or hash dropped): reused first, FIFO
    std::list<int> free_cached_;  // hold a prefix: reused last, least recently freed first
    int64_t num_evictions_ = 0;
};

}  // namespace kite
