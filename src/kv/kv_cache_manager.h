// Every KV block decision, per sequence: its block table, prefix-cache lookups, growing a table as
// tokens are scheduled (with copy-on-write of a shared partly filled block), forking tables
// (parallel samples, beams), freeing, and swapping a preempted sequence's blocks out to a host
// buffer it keeps and back in. The scheduler asks it how many blocks a plan needs and books them;
// the runner reads block tables and calls apply_moves() once per step, which carries out the
// step's copies and swaps through a KvBlockStore. Block ids and token counts only.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.h"
#include "kv/kv_block_store.h"
#include "kv/prefix_index.h"

namespace kite {

struct KvCacheManagerConfig {
    int num_blocks = 0;
    int block_size = 16;
    bool enable_prefix_caching = true;
};

// Leading full blocks of a token sequence found in the prefix cache.
struct PrefixHit {
    std::vector<int> blocks;
    int num_tokens = 0;  // blocks.size() * block_size
};

// Copy block src's K/V into dst before the step's forward pass (copy-on-write).
struct BlockCopy {
    int src = -1;
    int dst = -1;
};

class KvCacheManager {
public:
    explicit KvCacheManager(const KvCacheManagerConfig& config);

    // The longest run of cached full blocks starting `tokens`. At least one token is always left
    // to compute (the last one's logits are needed), so a fully cached prompt hits one block less.
    // Counts the lookup in the query/hit statistics.
    PrefixHit find_cached_prefix(std::span<const int32_t> tokens, uint64_t extra_key);

    // Makes `seq_id`'s table cover `num_tokens_total` tokens, of which those from `first_write_pos`
    // on will be written this step. On a sequence's first allocation `hit` (may be null) becomes
    // the head of its table. A shared block that will be written is replaced by a private copy,
    // appended to `copies`. All or nothing: returns false, changing nothing, when blocks run short.
    bool allocate_slots(int64_t seq_id, int first_write_pos, int num_tokens_total, const PrefixHit* hit,
                        std::vector<BlockCopy>* copies);
    // How many free blocks allocate_slots would take (ignoring a prefix hit).
    int num_blocks_to_allocate(int64_t seq_id, int first_write_pos, int num_tokens_total) const;

    // One sequence's share of a booking: allocate_slots' arguments.
    struct SlotPlan {
        int64_t seq_id = -1;
        int first_write_pos = 0;
        int num_tokens_total = 0;
        const PrefixHit* hit = nullptr;  // a fresh sequence's prefix hit, or null
    };
    // The free blocks that allocate_slots over all of `plans` (the sequences of one request) would
    // take together: new blocks, hit blocks now in the free list, and the copies of shared blocks
    // (k writers of a block held m times copy k times, or k - 1 when all m holders write).
    int num_blocks_needed(std::span<const SlotPlan> plans) const;

    // Registers the sequence's full blocks among its first `num_computed` tokens in the prefix index.
    void cache_full_blocks(int64_t seq_id, std::span<const int32_t> tokens, int num_computed, uint64_t extra_key);

    // Releases the sequence's blocks past those holding its first `num_tokens` tokens (speculative
    // decoding: the slots of rejected draft tokens). Blocks kept may hold stale slots past
    // num_tokens; they are rewritten before anything reads them.
    void truncate(int64_t seq_id, int num_tokens);

    // `child` shares every block of `parent` (reference counts +1); writes later copy on write.
    void fork(int64_t parent, int64_t child);
    // Releases the sequence's blocks (last block first, so a prefix's tail is evicted before its head)
    // and any host copy of them.
    void free(int64_t seq_id);

    // Preemption by swapping: the blocks holding the first `num_computed_tokens` tokens are saved to
    // a host buffer at the next apply_moves, and the sequence's blocks are released now. Returns
    // the blocks saved, in order.
    std::vector<int> swap_out(int64_t seq_id, int num_computed_tokens);
    // Gives a swapped-out sequence fresh blocks for its `num_computed_tokens` tokens, loaded from its
    // host buffer at the next apply_moves. False, changing nothing, when blocks run short.
    bool swap_in(int64_t seq_id, int num_computed_tokens);
    bool is_swapped(int64_t seq_id) const { return swapped_.count(seq_id) > 0; }
    // Forgets a swapped-out sequence's host copy (it will be recomputed instead).
    void drop_swapped(int64_t seq_id) { swapped_.erase(seq_id); }
    int64_t swapped_bytes() const;  // host memory the swapped-out sequences hold

    // Carries out the moves decided since the last call, in the only safe order: saves of
    // swapped-out blocks (before their reuse is written), copy-on-write copies, loads of
    // swapped-in blocks. Call once per step, before the forward pass.
    void apply_moves(KvBlockStore& store);

    bool has_sequence(int64_t seq_id) const { return seqs_.count(seq_id) > 0; }
    const std::vector<int>& block_table(int64_t seq_id) const;

    int block_size() const { return block_size_; }
    int num_blocks() const { return pool_.num_blocks(); }
    int num_free_blocks() const { return pool_.num_free(); }
    int num_free_cached_blocks() const { return pool_.num_free_cached(); }
    int blocks_for_tokens(int num_tokens) const { return (num_tokens + block_size_ - 1) / block_size_; }
    double usage() const;  // fraction of blocks referenced by some sequence
    int64_t num_cache_queries() const { return num_queries_; }  // prompt tokens looked up
    int64_t num_cache_hits() const { return num_hits_; }        // prompt tokens found
    int64_t num_evictions() const { return pool_.num_evictions(); }
    const BlockPool& pool() const { return pool_; }

private:
    struct SeqBlocks {
        std::vector<int> table;
        int num_hashed = 0;                  // leading blocks already registered
        uint64_t last_hash = kNoParentHash;  // chain state after num_hashed blocks
    };
    int take_block();

    int block_size_;
    bool prefix_caching_;
    BlockPool pool_;
    PrefixIndex index_;
    std::unordered_map<int64_t, SeqBlocks> seqs_;
    std::unordered_map<int64_t, std::vector<uint8_t>> swapped_;  // host copies of swapped-out sequences
    struct SwapMove {
        int64_t seq_id;
        std::vector<int> blocks;
    };
    std::vector<SwapMove> pending_saves_, pending_loads_;
    std::vector<BlockCopy> pending_copies_;
    int64_t num_queries_ = 0;
    int64_t num_hits_ = 0;
};

}  // namespace kite
