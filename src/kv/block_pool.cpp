// Reference counts and the two free lists of the KV block pool (see block_pool.h).
#include "kv/block_pool.h"

#include "core/status.h"

namespace kite {

BlockPool::BlockPool(int num_blocks) : blocks_(static_cast<size_t>(num_blocks)) {
    for (int b = 0; b < num_blocks; ++b) {
        blocks_[b].pos = free_plain_.insert(free_plain_.end(), b);
        blocks_[b].in_free_list = true;
    }
}

void BlockPool::remove_from_free(int block) {
    Block& b = blocks_[block];
    KITE_CHECK(b.in_free_list);
    (b.has_hash ? free_cached_ : free_plain_).erase(b.pos);
    b.in_free_list = false;
}

std::optional<BlockPool::Allocation> BlockPool::allocate() {
    Allocation a;
    if (!free_plain_.empty()) {
        a.block = free_plain_.front();
    } else if (!free_cached_.empty()) {
        a.block = free_cached_.front();
    } else {
        return std::nullopt;
    }
    remove_from_free(a.block);
    Block& b = blocks_[a.block];
    if (b.has_hash) {
        a.evicted_hash = b.hash;
        b.has_hash = false;
        ++num_evictions_;
    }
    b.ref_count = 1;
    return a;
}

void BlockPool::ref(int block) {
    Block& b = blocks_[block];
    if (b.ref_count == 0) remove_from_free(block);
    ++b.ref_count;
}

void BlockPool::unref(int block) {
    Block& b = blocks_[block];
    KITE_CHECK_MSG(b.ref_count > 0, "unref of a free block " + std::to_string(block));
    if (--b.ref_count > 0) return;
    std::list<int>& list = b.has_hash ? free_cached_ : free_plain_;
    b.pos = list.insert(list.end(), block);
    b.in_free_list = true;
}

void BlockPool::set_hash(int block, uint64_t hash) {
    Block& b = blocks_[block];
    KITE_CHECK(!b.in_free_list);  // only blocks in use get (re)hashed
    b.has_hash = true;
    b.hash = hash;
}

void BlockPool::clear_hash(int block) {
    Block& b = blocks_[block];
    if (!b.has_hash) return;
    if (b.in_free_list) {
        free_cached_.erase(b.pos);
        b.pos = free_plain_.insert(free_plain_.end(), block);
    }
    b.has_hash = false;
}

std::optional<uint64_t> BlockPool::hash(int block) const {
    const Block& b = blocks_[block];
    if (!b.has_hash) return std::nullopt;
    return b.hash;
}

}  // namespace kite
