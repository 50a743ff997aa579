// BlockPool and PrefixIndex on tiny pools: free counts, reuse order, eviction of cached blocks.
#include <gtest/gtest.h>

#include <vector>

#include "kv/block_pool.h"
#include "kv/prefix_index.h"

namespace kite {

TEST(BlockPool, AllocatesInOrderAndRefCounts) {
    BlockPool pool(4);
    EXPECT_EQ(pool.num_free(), 4);
    std::vector<int> got;
    for (int i = 0; i < 4; ++i) got.push_back(pool.allocate()->block);
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(pool.num_free(), 0);
    EXPECT_FALSE(pool.allocate().has_value());
    pool.ref(2);
    EXPECT_EQ(pool.ref_count(2), 2);
    pool.unref(2);
    EXPECT_EQ(pool.num_free(), 0);
    pool.unref(2);
    EXPECT_EQ(pool.num_free(), 1);
    pool.unref(0);
    // Freed blocks go to the tail: 2 was freed before 0.
    EXPECT_EQ(pool.allocate()->block, 2);
    EXPECT_EQ(pool.allocate()->block, 0);
}

TEST(BlockPool, CachedBlocksAreEvictedLastAndLeastRecentlyFreedFirst) {
    BlockPool pool(4);
    for (int i = 0; i < 4; ++i) ASSERT_EQ(pool.allocate()->block, i);
    pool.set_hash(1, 111);
    pool.set_hash(3, 333);
    pool.unref(3);  // cached, freed first
    pool.unref(0);  // plain
    pool.unref(1);  // cached, freed second
    EXPECT_EQ(pool.num_free(), 3);
    EXPECT_EQ(pool.num_free_cached(), 2);
    // A plain block goes first even though cached ones were freed earlier.
    BlockPool::Allocation a = *pool.allocate();
    EXPECT_EQ(a.block, 0);
    EXPECT_FALSE(a.evicted_hash.has_value());
    // A hit takes block 1 back out of the free lists; nothing is evicted.
    pool.ref(1);
    EXPECT_EQ(pool.num_free(), 1);
    EXPECT_EQ(pool.hash(1), 111u);
    a = *pool.allocate();
    EXPECT_EQ(a.block, 3);
    EXPECT_EQ(a.evicted_hash, 333u);
    EXPECT_FALSE(pool.hash(3).has_value());
    EXPECT_EQ(pool.num_evictions(), 1);
    EXPECT_EQ(pool.num_free(), 0);
}

TEST(PrefixIndex, ChainedHashDependsOnEveryEarlierToken) {
    const std::vector<int32_t> a = {1, 2, 3, 4}, b = {1, 2, 3, 5};
    const uint64_t ha = hash_block(kNoParentHash, a, 0);
    EXPECT_EQ(ha, hash_block(kNoParentHash, a, 0));
    EXPECT_NE(ha, hash_block(kNoParentHash, b, 0));
    EXPECT_NE(ha, hash_block(kNoParentHash, a, 7));  // extra key (e.g. a LoRA id)
    // Same block tokens after different parents hash differently.
    EXPECT_NE(hash_block(ha, a, 0), hash_block(hash_block(kNoParentHash, b, 0), a, 0));

    PrefixIndex index;
    EXPECT_TRUE(index.insert(ha, 5));
    EXPECT_FALSE(index.insert(ha, 6));
    EXPECT_EQ(index.find(ha), 5);
    index.erase(ha, 6);  // not its block: kept
    EXPECT_EQ(index.find(ha), 5);
    index.erase(ha, 5);
    EXPECT_FALSE(index.find(ha).has_value());
}

}  // namespace kite
