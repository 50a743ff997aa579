// The K/V memory of the paged cache: per layer, K and V pools of shape
// [num_blocks, block_size, num_kv_heads, head_dim] (or a single pool, for multi-head latent
// attention). kv/ only books block ids; this object owns the memory, and the runner moves blocks
// (copy-on-write, swap to host and back).
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace kite {

struct KvCacheShape {
    int num_layers = 0;
    int num_blocks = 0;
    int block_size = 16;
    int num_kv_heads = 0;
    int head_dim = 0;
    DType dtype = DType::kF32;
    Device device = Device::kCpu;  // kCuda: the pools live in GPU memory (a KITE_CUDA build)
    // 2: a K and a V pool per layer. 1: the K pool alone, for models that cache one row per token
    // (multi-head latent attention: the latent and the rotary key, num_kv_heads 1); v() is undefined.
    int pools_per_layer = 2;

    int64_t block_elems() const { return int64_t(block_size) * num_kv_heads * head_dim; }
    // Bytes one block takes over all layers and pools.
    int64_t bytes_per_block() const { return pools_per_layer * num_layers * dtype_bytes_for(dtype, block_elems()); }
};

class KvCache {
public:
    static Result<KvCache> create(const KvCacheShape& shape);

    const KvCacheShape& shape() const { return shape_; }
    Tensor& k(int layer) { return k_[layer]; }
    Tensor& v(int layer) { return v_[layer]; }

    // Copy every layer's K/V of block `src` into block `dst` (copy-on-write of a shared block).
    void copy_block(int src, int dst);
    // Swap: blocks' K/V (all layers) to a host buffer and back. The buffer layout is private.
    std::vector<uint8_t> save_blocks(const std::vector<int>& blocks) const;
    void load_blocks(const std::vector<int>& blocks, const std::vector<uint8_t>& saved);

private:
    std::vector<Tensor*> pools(int layer);
    std::vector<const Tensor*> pools(int layer) const;
    KvCacheShape shape_;
    std::vector<Tensor> k_, v_;
};

}  // namespace kite
