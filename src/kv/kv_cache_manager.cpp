// Per-sequence block tables over the block pool and the prefix index (see kv_cache_manager.h).
#include "kv/kv_cache_manager.h"

#include <algorithm>
#include <unordered_set>

#include "core/status.h"

namespace kite {

KvCacheManager::KvCacheManager(const KvCacheManagerConfig& config)
    : block_size_(config.block_size), prefix_caching_(config.enable_prefix_caching), pool_(config.num_blocks) {
    KITE_CHECK(config.block_size > 0 && config.num_blocks >= 0);
}

PrefixHit KvCacheManager::find_cached_prefix(std::span<const int32_t> tokens, uint64_t extra_key) {
    PrefixHit hit;
    if (!prefix_caching_ || tokens.empty()) return hit;
    num_queries_ += static_cast<int64_t>(tokens.size());
    const int max_blocks = static_cast<int>((tokens.size() - 1) / block_size_);
    uint64_t parent = kNoParentHash;
    for (int i = 0; i < max_blocks; ++i) {
        parent = hash_block(parent, tokens.subspan(size_t(i) * block_size_, block_size_), extra_key);
        std::optional<int> b = index_.find(parent);
        if (!b) break;
        hit.blocks.push_back(*b);
    }
    hit.num_tokens = static_cast<int>(hit.blocks.size()) * block_size_;
    num_hits_ += hit.num_tokens;
    return hit;
}

int KvCacheManager::num_blocks_to_allocate(int64_t seq_id, int first_write_pos, int num_tokens_total) const {
    auto it = seqs_.find(seq_id);
    const int have = it == seqs_.end() ? 0 : static_cast<int>(it->second.table.size());
    int need = std::max(0, blocks_for_tokens(num_tokens_total) - have);
    const int first_block = first_write_pos / block_size_;
    if (it != seqs_.end() && first_write_pos < num_tokens_total && first_block < have &&
        pool_.ref_count(it->second.table[first_block]) > 1) {
        ++need;  // copy-on-write of the shared block written first
    }
    return need;
}

int KvCacheManager::take_block() {
    std::optional<BlockPool::Allocation> a = pool_.allocate();
    KITE_CHECK(a.has_value());
    if (a->evicted_hash) index_.erase(*a->evicted_hash, a->block);
    return a->block;
}

bool KvCacheManager::allocate_slots(int64_t seq_id, int first_write_pos, int num_tokens_total,
                                    const PrefixHit* hit, std::vector<BlockCopy>* copies) {
    const bool is_new = seqs_.count(seq_id) == 0;
    std::span<const int> hit_blocks;
    if (is_new && hit != nullptr) hit_blocks = hit->blocks;
    int hit_free = 0;  // hit blocks that sit in a free list: taking them shrinks the free count
    for (int b : hit_blocks) hit_free += pool_.ref_count(b) == 0 ? 1 : 0;
    const int to_take = is_new ? std::max(0, blocks_for_tokens(num_tokens_total) - int(hit_blocks.size()))
                               : num_blocks_to_allocate(seq_id, first_write_pos, num_tokens_total);
    if (to_take + hit_free > pool_.num_free()) return false;

    SeqBlocks& s = seqs_[seq_id];
    // Hit blocks are referenced before anything is allocated, so allocation cannot evict them.
    for (int b : hit_blocks) {
        pool_.ref(b);
        s.table.push_back(b);
        s.last_hash = *pool_.hash(b);
    }
    if (is_new) s.num_hashed = static_cast<int>(s.table.size());
    const int first_block = first_write_pos / block_size_;
    if (!is_new && first_write_pos < num_tokens_total && first_block < static_cast<int>(s.table.size()) &&
        pool_.ref_count(s.table[first_block]) > 1) {
        const int src = s.table[first_block];
        const int dst = take_block();
        pool_.unref(src);
        s.table[first_block] = dst;
        pending_copies_.push_back({src, dst});
        if (copies) copies->push_back({src, dst});
    }
    while (static_cast<int>(s.table.size()) < blocks_for_tokens(num_tokens_total)) s.table.push_back(take_block());
    return true;
}

void KvCacheManager::cache_full_blocks(int64_t seq_id, std::span<const int32_t> tokens, int num_computed,
                                       uint64_t extra_key) {
    if (!prefix_caching_) return;
    auto it = seqs_.find(seq_id);
    if (it == seqs_.end()) return;
    SeqBlocks& s = it->second;
    const int full = std::min(num_computed / block_size_, static_cast<int>(s.table.size()));
    for (int i = s.num_hashed; i < full; ++i) {
        s.last_hash = hash_block(s.last_hash, tokens.subspan(size_t(i) * block_size_, block_size_), extra_key);
        const int b = s.table[i];
        if (pool_.hash(b)) continue;  // already holds this prefix (shared from a parent or a hit)
        if (index_.insert(s.last_hash, b)) pool_.set_hash(b, s.last_hash);
    }
    s.num_hashed = std::max(s.num_hashed, full);
}

void KvCacheManager::fork(int64_t parent, int64_t child) {
    KITE_CHECK(seqs_.count(child) == 0);
    SeqBlocks copy = seqs_.at(parent);
    for (int b : copy.table) pool_.ref(b);
    seqs_[child] = std::move(copy);
}

void KvCacheManager::free(int64_t seq_id) {
    swapped_.erase(seq_id);
    auto it = seqs_.find(seq_id);
    if (it == seqs_.end()) return;
    for (auto b = it->second.table.rbegin(); b != it->second.table.rend(); ++b) pool_.unref(*b);
    seqs_.erase(it);
}

void KvCacheManager::truncate(int64_t seq_id, int num_tokens) {
    auto it = seqs_.find(seq_id);
    if (it == seqs_.end()) return;
    SeqBlocks& s = it->second;
    const size_t keep = static_cast<size_t>(blocks_for_tokens(std::max(0, num_tokens)));
    while (s.table.size() > keep) {
        pool_.unref(s.table.back());
        s.table.pop_back();
    }
    // Registered blocks are full blocks of computed tokens, so none is released here; the chain
    // state is kept consistent anyway for a caller truncating below them.
    if (s.num_hashed > static_cast<int>(keep)) {
        s.num_hashed = static_cast<int>(keep);
        s.last_hash = keep == 0 ? kNoParentHash : pool_.hash(s.table[keep - 1]).value_or(kNoParentHash);
    }
}

int KvCacheManager::num_blocks_needed(std::span<const SlotPlan> plans) const {
    int need = 0;
    std::unordered_set<int> hit_free;          // cached free blocks a hit takes out of the free pool
    std::unordered_map<int, int> cow_writers;  // shared block -> sequences of the plan writing into it
    for (const SlotPlan& p : plans) {
        auto it = seqs_.find(p.seq_id);
        if (it == seqs_.end()) {
            const int hit_blocks = p.hit ? static_cast<int>(p.hit->blocks.size()) : 0;
            need += std::max(0, blocks_for_tokens(p.num_tokens_total) - hit_blocks);
            if (p.hit) {
                for (int b : p.hit->blocks)
                    if (pool_.ref_count(b) == 0) hit_free.insert(b);
            }
            continue;
        }
        const std::vector<int>& table = it->second.table;
        need += std::max(0, blocks_for_tokens(p.num_tokens_total) - static_cast<int>(table.size()));
        const size_t first = static_cast<size_t>(p.first_write_pos / block_size_);
        if (p.first_write_pos < p.num_tokens_total && first < table.size() && pool_.ref_count(table[first]) > 1)
            ++cow_writers[table[first]];
    }
    for (const auto& [block, k] : cow_writers) need += pool_.ref_count(block) > k ? k : k - 1;
    return need + static_cast<int>(hit_free.size());
}

std::vector<int> KvCacheManager::swap_out(int64_t seq_id, int num_computed_tokens) {
    std::vector<int> blocks;
    auto it = seqs_.find(seq_id);
    if (it != seqs_.end()) {
        const std::vector<int>& table = it->second.table;
        const size_t n = static_cast<size_t>(blocks_for_tokens(num_computed_tokens));
        KITE_CHECK(n <= table.size());
        blocks.assign(table.begin(), table.begin() + static_cast<long>(n));
    }
    free(seq_id);
    swapped_[seq_id];  // filled by apply_moves
    pending_saves_.push_back({seq_id, blocks});
    return blocks;
}

bool KvCacheManager::swap_in(int64_t seq_id, int num_computed_tokens) {
    KITE_CHECK(is_swapped(seq_id) && seqs_.count(seq_id) == 0);
    if (!allocate_slots(seq_id, num_computed_tokens, num_computed_tokens, nullptr, nullptr)) return false;
    pending_loads_.push_back({seq_id, block_table(seq_id)});
    return true;
}

int64_t KvCacheManager::swapped_bytes() const {
    int64_t n = 0;
    for (const auto& [id, bytes] : swapped_) n += static_cast<int64_t>(bytes.size());
    return n;
}

void KvCacheManager::apply_moves(KvBlockStore& store) {
    // A sequence freed (aborted, or sent back to recompute) after its move was decided has no
    // host copy any more: its save and its load are skipped.
    for (SwapMove& m : pending_saves_) {
        auto it = swapped_.find(m.seq_id);
        if (it != swapped_.end()) it->second = store.save_blocks(m.blocks);
    }
    for (const BlockCopy& c : pending_copies_) store.copy_block(c.src, c.dst);
    for (SwapMove& m : pending_loads_) {
        auto it = swapped_.find(m.seq_id);
        if (it == swapped_.end()) continue;
        store.load_blocks(m.blocks, it->second);
        swapped_.erase(it);
    }
    pending_saves_.clear();
    pending_copies_.clear();
    pending_loads_.clear();
}

const std::vector<int>& KvCacheManager::block_table(int64_t seq_id) const {
    static const std::vector<int> kEmpty;
    auto it = seqs_.find(seq_id);
    return it == seqs_.end() ? kEmpty : it->second.table;
}

double KvCacheManager::usage() const {
    if (pool_.num_blocks() == 0) return 0.0;
    return 1.0 - double(pool_.num_free()) / pool_.num_blocks();
}

}  // namespace kite
