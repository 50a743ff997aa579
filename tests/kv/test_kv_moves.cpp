// The KV manager owns every block move: swap out to a host copy it keeps, copy-on-write, swap back
// in, carried out through a KvBlockStore in the order that keeps data right even when a block
// freed by a swap-out is reused in the same step. The store here is a toy memory (one number per
// block), so what each sequence reads back can be checked by hand.
#include <gtest/gtest.h>

#include <cstring>

#include "kv/kv_cache_manager.h"

namespace kite {
namespace {

class ToyStore : public KvBlockStore {
public:
    explicit ToyStore(int blocks) : mem(size_t(blocks), 0) {}
    void copy_block(int src, int dst) override {
        log += "c";
        mem[size_t(dst)] = mem[size_t(src)];
    }
    std::vector<uint8_t> save_blocks(const std::vector<int>& blocks) override {
        log += "s";
        std::vector<uint8_t> out(blocks.size() * sizeof(int));
        for (size_t i = 0; i < blocks.size(); ++i) std::memcpy(&out[i * sizeof(int)], &mem[size_t(blocks[i])], sizeof(int));
        return out;
    }
    void load_blocks(const std::vector<int>& blocks, const std::vector<uint8_t>& saved) override {
        log += "l";
        ASSERT_EQ(saved.size(), blocks.size() * sizeof(int));
        for (size_t i = 0; i < blocks.size(); ++i) std::memcpy(&mem[size_t(blocks[i])], &saved[i * sizeof(int)], sizeof(int));
    }
    std::vector<int> mem;
    std::string log;
};

// Writes `value` into every block of the sequence's table (what a forward pass would do).
void write(const KvCacheManager& m, ToyStore& store, int64_t seq, int value) {
    for (int b : m.block_table(seq)) store.mem[size_t(b)] = value;
}

TEST(KvMoves, SwapOutThenReuseThenSwapInKeepsTheData) {
    KvCacheManager m({4, 4, false});
    ToyStore store(4);
    ASSERT_TRUE(m.allocate_slots(1, 0, 8, nullptr, nullptr));  // 2 blocks
    write(m, store, 1, 11);
    const std::vector<int> saved = m.swap_out(1, 8);
    EXPECT_EQ(saved.size(), 2u);
    EXPECT_TRUE(m.is_swapped(1));
    EXPECT_EQ(m.num_free_blocks(), 4);
    // The same step hands the freed blocks to another sequence before anything was moved.
    ASSERT_TRUE(m.allocate_slots(2, 0, 16, nullptr, nullptr));
    m.apply_moves(store);  // the save must run before sequence 2's forward writes
    write(m, store, 2, 22);
    m.free(2);
    ASSERT_TRUE(m.swap_in(1, 8));
    m.apply_moves(store);
    EXPECT_EQ(store.log, "sl");
    for (int b : m.block_table(1)) EXPECT_EQ(store.mem[size_t(b)], 11);
    EXPECT_FALSE(m.is_swapped(1));
    EXPECT_EQ(m.swapped_bytes(), 0);
}

TEST(KvMoves, CopyOnWriteIsCarriedOutWithTheStep) {
    KvCacheManager m({6, 4, false});
    ToyStore store(6);
    ASSERT_TRUE(m.allocate_slots(1, 0, 6, nullptr, nullptr));  // blocks for 6 tokens: one full, one partial
    write(m, store, 1, 7);
    m.fork(1, 2);
    // Both write into the shared partial block: the first writer copies, the last holder keeps it.
    const KvCacheManager::SlotPlan plans[] = {{1, 6, 7, nullptr}, {2, 6, 7, nullptr}};
    EXPECT_EQ(m.num_blocks_needed(plans), 1);
    const int before = m.num_free_blocks();
    ASSERT_TRUE(m.allocate_slots(1, 6, 7, nullptr, nullptr));
    ASSERT_TRUE(m.allocate_slots(2, 6, 7, nullptr, nullptr));
    EXPECT_EQ(before - m.num_free_blocks(), 1);
    m.apply_moves(store);
    EXPECT_EQ(store.log, "c");
    EXPECT_NE(m.block_table(1)[1], m.block_table(2)[1]);
    EXPECT_EQ(store.mem[size_t(m.block_table(1)[1])], 7);
    EXPECT_EQ(store.mem[size_t(m.block_table(2)[1])], 7);
}

TEST(KvMoves, FreedSequenceDropsItsHostCopyAndItsPendingMoves) {
    KvCacheManager m({4, 4, false});
    ToyStore store(4);
    ASSERT_TRUE(m.allocate_slots(1, 0, 4, nullptr, nullptr));
    m.swap_out(1, 4);
    m.free(1);  // aborted before the step ran
    m.apply_moves(store);
    EXPECT_EQ(store.log, "");
    EXPECT_FALSE(m.is_swapped(1));
    ASSERT_TRUE(m.allocate_slots(3, 0, 4, nullptr, nullptr));
    m.swap_out(3, 4);
    m.apply_moves(store);
    EXPECT_GT(m.swapped_bytes(), 0);
    m.drop_swapped(3);  // sent back to recompute
    EXPECT_EQ(m.swapped_bytes(), 0);
}

TEST(KvMoves, BlocksNeededCountsHitBlocksInTheFreeList) {
    KvCacheManager m({4, 4, true});
    const std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    ASSERT_TRUE(m.allocate_slots(1, 0, 9, nullptr, nullptr));
    m.cache_full_blocks(1, tokens, 9, 0);
    m.free(1);  // its two full blocks stay findable, in the free list
    PrefixHit hit = m.find_cached_prefix(tokens, 0);
    ASSERT_EQ(hit.blocks.size(), 2u);
    const KvCacheManager::SlotPlan plan[] = {{2, hit.num_tokens, 9, &hit}};
    // One new block for token 9, plus the two hit blocks taken back out of the free list.
    EXPECT_EQ(m.num_blocks_needed(plan), 3);
    const int before = m.num_free_blocks();
    ASSERT_TRUE(m.allocate_slots(2, hit.num_tokens, 9, &hit, nullptr));
    EXPECT_EQ(before - m.num_free_blocks(), 3);
}

}  // namespace
}  // namespace kite
