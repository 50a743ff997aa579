// The K/V memory of the paged cache: per layer, K and V pools of shape
// [num_blocks, block_size, num_kv_heads, head_dim]. kv/ only books block ids; this object owns
// the memory, and the runner moves blocks (copy-on-write, swap to host and back).
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/kv_quant.h"

namespace kite {

struct KvCacheShape {
    int num_layers = 0;
    int num_blocks = 0;
    int block_size = 16;
    int num_kv_heads = 0;
    int head_dim = 0;
    DType dtype = DType::kF32;
    Device device = Device::kCpu;  // kCuda: the pools live in GPU memory (a KITE_CUDA build)
    // 8-bit K/V (--kv-cache-dtype, ops/kv_quant.h): codes of `dtype` I8 / U8 plus one f32 scale per
    // token and KV head. kAuto: f32 K/V.
    ops::KvCacheDtype kv_dtype = ops::KvCacheDtype::kAuto;
    // 2: a K and a V pool per layer. 1: the K pool alone, for models that cache one row per token
    // (multi-head latent attention: the latent and the rotary key, num_kv_heads 1); v() is undefined.
    int pools_per_layer = 2;

    int64_t block_elems() const { return int64_t(block_size) * num_kv_heads * head_dim; }
    // Bytes one block takes over all layers and pools (and their scales).
    int64_t bytes_per_block() const {
        const int64_t scales = kv_dtype == ops::KvCacheDtype::kAuto ? 0 : int64_t(block_size) * num_kv_heads * 4;
        return pools_per_layer * num_layers * (dtype_bytes_for(dtype, block_elems()) + scales);
    }
};

class KvCache {
public:
    static Result<KvCache> create(const KvCacheShape& shape);

    const KvCacheShape& shape() const { return shape_; }
    Tensor& k(int layer) { return k_[layer]; }
    Tensor& v(int layer) { return v_[layer]; }
    // 8-bit caches: f32 [num_blocks, block_size, kv_heads] scales of each K / V row.
    Tensor& k_scale(int layer) { return k_scale_[layer]; }
    Tensor& v_scale(int layer) { return v_scale_[layer]; }

    // Copy every layer's K/V of block `src` into block `dst` (copy-on-write of a shared block).
    void copy_block(int src, int dst);
    // Swap: blocks' K/V (all layers) to a host buffer and back. The buffer layout is private.
    std::vector<uint8_t> save_blocks(const std::vector<int>& blocks) const;
    void load_blocks(const std::vector<int>& blocks, const std::vector<uint8_t>& saved);

private:
    KvCacheShape shape_;
    std::vector<Tensor> k_, v_, k_scale_, v_scale_;
    // Every pool of a layer (K, V and, when 8-bit, their scales): what block copies and swaps move.
    std::vector<const Tensor*> pools(int layer) const;
};

}  // namespace kite
