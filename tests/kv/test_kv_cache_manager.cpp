// KvCacheManager with 6-8 blocks of 4 tokens: allocation, prefix hits, eviction, fork and
// copy-on-write, all-or-nothing failure, and no leaks. Expected counts are worked out by hand.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "kv/kv_cache_manager.h"

namespace kite {
namespace {

std::vector<int32_t> iota_tokens(int n, int start = 100) {
    std::vector<int32_t> v(n);
    std::iota(v.begin(), v.end(), start);
    return v;
}

KvCacheManager make(int blocks, bool caching = true) { return KvCacheManager({blocks, 4, caching}); }

}  // namespace

TEST(KvCacheManager, GrowsTableBlockByBlock) {
    KvCacheManager m = make(6);
    ASSERT_TRUE(m.allocate_slots(1, 0, 6, nullptr, nullptr));  // 6 tokens -> 2 blocks
    EXPECT_EQ(m.block_table(1), (std::vector<int>{0, 1}));
    EXPECT_EQ(m.num_free_blocks(), 4);
    ASSERT_TRUE(m.allocate_slots(1, 6, 7, nullptr, nullptr));  // still in block 1
    ASSERT_TRUE(m.allocate_slots(1, 7, 8, nullptr, nullptr));
    EXPECT_EQ(m.num_free_blocks(), 4);
    ASSERT_TRUE(m.allocate_slots(1, 8, 9, nullptr, nullptr));  // token 8 opens block 2
    EXPECT_EQ(m.block_table(1), (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(m.num_free_blocks(), 3);
    // 4 more blocks needed, 3 free: refused and nothing changes.
    EXPECT_FALSE(m.allocate_slots(1, 9, 25, nullptr, nullptr));
    EXPECT_EQ(m.block_table(1).size(), 3u);
    EXPECT_EQ(m.num_free_blocks(), 3);
    m.free(1);
    EXPECT_EQ(m.num_free_blocks(), 6);
    EXPECT_DOUBLE_EQ(m.usage(), 0.0);
}

TEST(KvCacheManager, PrefixHitSharesFullBlocksAndLeavesOneTokenToCompute) {
    KvCacheManager m = make(8);
    const std::vector<int32_t> a = iota_tokens(10);  // blocks [0..3] [4..7] + 2 tokens
    ASSERT_TRUE(m.allocate_slots(1, 0, 10, nullptr, nullptr));
    m.cache_full_blocks(1, a, 10, 0);
    EXPECT_EQ(m.num_free_blocks(), 5);

    // Same first 8 tokens, different tail: both full blocks hit.
    std::vector<int32_t> b = a;
    b[9] = 7;
    PrefixHit hit = m.find_cached_prefix(b, 0);
    EXPECT_EQ(hit.num_tokens, 8);
    EXPECT_EQ(hit.blocks, (std::vector<int>{0, 1}));
    ASSERT_TRUE(m.allocate_slots(2, 8, 10, &hit, nullptr));
    EXPECT_EQ(m.block_table(2), (std::vector<int>{0, 1, 3}));
    EXPECT_EQ(m.pool().ref_count(0), 2);
    EXPECT_EQ(m.num_free_blocks(), 4);
    EXPECT_EQ(m.num_cache_queries(), 10);
    EXPECT_EQ(m.num_cache_hits(), 8);

    // Exactly 8 tokens, both blocks cached: only the first may be used.
    std::vector<int32_t> c(a.begin(), a.begin() + 8);
    EXPECT_EQ(m.find_cached_prefix(c, 0).num_tokens, 4);
    // A different first token shares nothing, even though block 2's tokens match.
    std::vector<int32_t> d = a;
    d[0] = 1;
    EXPECT_EQ(m.find_cached_prefix(d, 0).num_tokens, 0);
    // Another extra key (adapter) shares nothing.
    EXPECT_EQ(m.find_cached_prefix(a, 9).num_tokens, 0);

    m.free(1);
    m.free(2);
    EXPECT_EQ(m.num_free_blocks(), 8);
    EXPECT_EQ(m.num_free_cached_blocks(), 2);
}

TEST(KvCacheManager, CachedFreeBlocksAreReusedThenEvictedOnlyWhenNeeded) {
    KvCacheManager m = make(4);
    const std::vector<int32_t> a = iota_tokens(9);
    ASSERT_TRUE(m.allocate_slots(1, 0, 9, nullptr, nullptr));  // blocks 0,1,2
    m.cache_full_blocks(1, a, 9, 0);                           // 0 and 1 hashed
    m.free(1);
    EXPECT_EQ(m.num_free_blocks(), 4);
    EXPECT_EQ(m.num_free_cached_blocks(), 2);

    // A 2-block request takes the plain blocks (3, then 2) and evicts nothing.
    ASSERT_TRUE(m.allocate_slots(2, 0, 8, nullptr, nullptr));
    EXPECT_EQ(m.block_table(2), (std::vector<int>{3, 2}));
    EXPECT_EQ(m.num_evictions(), 0);
    EXPECT_EQ(m.find_cached_prefix(a, 0).num_tokens, 8);
    // One more block: evicts the least recently freed cached block. free() released 1 before 0.
    ASSERT_TRUE(m.allocate_slots(2, 8, 9, nullptr, nullptr));
    EXPECT_EQ(m.block_table(2).back(), 1);
    EXPECT_EQ(m.num_evictions(), 1);
    // Block 0 (tokens 0-3) still hits; block 1's prefix is gone.
    EXPECT_EQ(m.find_cached_prefix(a, 0).num_tokens, 4);
    m.free(2);
    EXPECT_EQ(m.num_free_blocks(), 4);
}

TEST(KvCacheManager, ForkSharesBlocksAndCopiesOnWrite) {
    KvCacheManager m = make(6);
    ASSERT_TRUE(m.allocate_slots(1, 0, 6, nullptr, nullptr));  // blocks 0, 1 (block 1 half full)
    m.fork(1, 2);
    m.fork(1, 3);
    EXPECT_EQ(m.pool().ref_count(1), 3);
    EXPECT_EQ(m.num_free_blocks(), 4);

    // Child 2 writes token 6 into the shared block 1: it gets a copy.
    std::vector<BlockCopy> copies;
    EXPECT_EQ(m.num_blocks_to_allocate(2, 6, 7), 1);
    ASSERT_TRUE(m.allocate_slots(2, 6, 7, nullptr, &copies));
    ASSERT_EQ(copies.size(), 1u);
    EXPECT_EQ(copies[0].src, 1);
    EXPECT_EQ(copies[0].dst, 2);
    EXPECT_EQ(m.block_table(2), (std::vector<int>{0, 2}));
    EXPECT_EQ(m.pool().ref_count(1), 2);
    ASSERT_TRUE(m.allocate_slots(3, 6, 7, nullptr, &copies));
    EXPECT_EQ(copies.back().dst, 3);
    // The parent is now the only owner of block 1 and writes in place.
    ASSERT_TRUE(m.allocate_slots(1, 6, 7, nullptr, &copies));
    EXPECT_EQ(copies.size(), 2u);
    EXPECT_EQ(m.block_table(1), (std::vector<int>{0, 1}));
    EXPECT_EQ(m.pool().ref_count(0), 3);
    EXPECT_EQ(m.num_free_blocks(), 2);
    m.free(1);  // frees block 1; block 0 is still shared by 2 and 3
    m.free(2);  // frees block 2
    EXPECT_EQ(m.num_free_blocks(), 4);
    m.free(3);
    EXPECT_EQ(m.num_free_blocks(), 6);
}

TEST(KvCacheManager, CopyOnWriteFailsCleanlyWithoutFreeBlocks) {
    KvCacheManager m = make(2);
    ASSERT_TRUE(m.allocate_slots(1, 0, 6, nullptr, nullptr));
    m.fork(1, 2);
    std::vector<BlockCopy> copies;
    EXPECT_FALSE(m.allocate_slots(2, 6, 7, nullptr, &copies));
    EXPECT_TRUE(copies.empty());
    EXPECT_EQ(m.block_table(2), (std::vector<int>{0, 1}));
    m.free(2);
    m.free(1);
    EXPECT_EQ(m.num_free_blocks(), 2);
}

TEST(KvCacheManager, HitOnFreeCachedBlocksCountsThemAgainstTheBudget) {
    KvCacheManager m = make(3);
    const std::vector<int32_t> a = iota_tokens(9);
    ASSERT_TRUE(m.allocate_slots(1, 0, 9, nullptr, nullptr));
    m.cache_full_blocks(1, a, 9, 0);
    m.free(1);
    PrefixHit hit = m.find_cached_prefix(a, 0);
    ASSERT_EQ(hit.num_tokens, 8);
    // 8 cached + 8 new tokens = 4 blocks > 3: refused, and the cached blocks are untouched.
    EXPECT_FALSE(m.allocate_slots(2, 8, 16, &hit, nullptr));
    EXPECT_EQ(m.num_free_blocks(), 3);
    EXPECT_EQ(m.find_cached_prefix(a, 0).num_tokens, 8);
    ASSERT_TRUE(m.allocate_slots(2, 8, 12, &hit, nullptr));
    EXPECT_EQ(m.num_free_blocks(), 0);
    EXPECT_EQ(m.num_evictions(), 0);
    m.free(2);
}

TEST(KvCacheManager, DisabledCachingNeverHits) {
    KvCacheManager m = make(4, false);
    const std::vector<int32_t> a = iota_tokens(9);
    ASSERT_TRUE(m.allocate_slots(1, 0, 9, nullptr, nullptr));
    m.cache_full_blocks(1, a, 9, 0);
    m.free(1);
    EXPECT_EQ(m.find_cached_prefix(a, 0).num_tokens, 0);
    EXPECT_EQ(m.num_free_cached_blocks(), 0);
}

}  // namespace kite

namespace kite {

// Speculative decoding books slots for draft tokens, then gives back the blocks that only held
// rejected ones; the verified full blocks stay registered for prefix hits.
TEST(KvCacheManager, TruncateReleasesTheBlocksOfRejectedDrafts) {
    KvCacheManager m = make(8);
    const std::vector<int32_t> tokens = iota_tokens(20);
    ASSERT_TRUE(m.allocate_slots(1, 0, 6, nullptr, nullptr));   // 6 tokens: 2 blocks
    ASSERT_TRUE(m.allocate_slots(1, 6, 15, nullptr, nullptr));  // + 1 token and 8 drafts: 4 blocks
    EXPECT_EQ(m.block_table(1).size(), 4u);
    EXPECT_EQ(m.num_free_blocks(), 4);
    m.truncate(1, 9);  // 2 drafts accepted: 9 computed tokens need 3 blocks
    EXPECT_EQ(m.block_table(1), (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(m.num_free_blocks(), 5);
    m.cache_full_blocks(1, tokens, 9, 0);
    m.truncate(1, 9);  // idempotent
    EXPECT_EQ(m.block_table(1).size(), 3u);
    m.truncate(1, 8);  // exactly two full blocks
    EXPECT_EQ(m.block_table(1), (std::vector<int>{0, 1}));
    // The two verified full blocks are found by a new sequence with the same tokens.
    const PrefixHit hit = m.find_cached_prefix(std::span<const int32_t>(tokens).first(12), 0);
    EXPECT_EQ(hit.blocks, (std::vector<int>{0, 1}));
    m.truncate(7, 3);  // unknown sequence: nothing happens
    m.free(1);
    EXPECT_EQ(m.num_free_blocks(), 8);
}

}  // namespace kite
