#include "model/kv_cache.h"

#include <cstring>

#include "core/device.h"

namespace kite {

Result<KvCache> KvCache::create(const KvCacheShape& shape) {
    if (shape.num_layers <= 0 || shape.num_blocks <= 0 || shape.block_size <= 0 || shape.num_kv_heads <= 0 ||
        shape.head_dim <= 0)
        return invalid_argument("KV cache: every dimension must be positive (layers " + std::to_string(shape.num_layers) +
                                ", blocks " + std::to_string(shape.num_blocks) + ", block size " +
                                std::to_string(shape.block_size) + ")");
    const bool quant = shape.kv_dtype != ops::KvCacheDtype::kAuto;
    const DType want = !quant ? DType::kF32 : shape.kv_dtype == ops::KvCacheDtype::kInt8 ? DType::kI8 : DType::kU8;
    if (shape.dtype != want)
        return invalid_argument(std::string("KV cache: dtype ") + dtype_name(shape.dtype) + " does not match the KV cache dtype (expected " +
                                dtype_name(want) + ")");
    if (shape.pools_per_layer != 1 && shape.pools_per_layer != 2)
        return invalid_argument("KV cache: pools_per_layer must be 1 (latent) or 2 (K and V), got " +
                                std::to_string(shape.pools_per_layer));
    if (quant && shape.pools_per_layer != 2)
        return unimplemented("KV cache: --kv-cache-dtype int8/fp8 is not supported for latent (MLA) caches; use auto");
    if (quant && shape.device != Device::kCpu)
        return unimplemented("KV cache: --kv-cache-dtype int8/fp8 has no CUDA kernels yet (use auto with --device cuda)");
    if (shape.device == Device::kCuda) {
        std::string why;
        if (!cuda_available(&why)) return unavailable("KV cache on CUDA: " + why);
    }
    KvCache kv;
    kv.shape_ = shape;
    const std::vector<int64_t> dims = {shape.num_blocks, shape.block_size, shape.num_kv_heads, shape.head_dim};
    for (int l = 0; l < shape.num_layers; ++l) {
        kv.k_.push_back(Tensor::zeros(shape.dtype, dims, shape.device));
        kv.v_.push_back(shape.pools_per_layer == 2 ? Tensor::zeros(shape.dtype, dims, shape.device) : Tensor());
        if (quant) {
            kv.k_scale_.push_back(Tensor::zeros(DType::kF32, {dims[0], dims[1], dims[2]}, shape.device));
            kv.v_scale_.push_back(Tensor::zeros(DType::kF32, {dims[0], dims[1], dims[2]}, shape.device));
        }
    }
    return kv;
}

std::vector<const Tensor*> KvCache::pools(int layer) const {
    if (shape_.pools_per_layer == 1) return {&k_[layer]};
    std::vector<const Tensor*> p = {&k_[layer], &v_[layer]};
    if (!k_scale_.empty()) p.insert(p.end(), {&k_scale_[layer], &v_scale_[layer]});
    return p;
}

void KvCache::copy_block(int src, int dst) {
    KITE_CHECK(src >= 0 && src < shape_.num_blocks && dst >= 0 && dst < shape_.num_blocks);
    for (int l = 0; l < shape_.num_layers; ++l) {
        for (const Tensor* pool : pools(l)) {
            const int64_t bytes = pool->nbytes() / shape_.num_blocks;
            auto* base = static_cast<uint8_t*>(const_cast<void*>(pool->raw()));
            const Status st = copy_bytes(base + dst * bytes, shape_.device, base + src * bytes, shape_.device, bytes);
            KITE_CHECK_MSG(st.is_ok(), st.message());
        }
    }
}

std::vector<uint8_t> KvCache::save_blocks(const std::vector<int>& blocks) const {
    std::vector<uint8_t> out(blocks.size() * shape_.bytes_per_block());
    uint8_t* dst = out.data();
    for (int l = 0; l < shape_.num_layers; ++l) {
        for (const Tensor* pool : pools(l)) {
            const int64_t bytes = pool->nbytes() / shape_.num_blocks;
            const auto* base = static_cast<const uint8_t*>(pool->raw());
            for (int b : blocks) {
                KITE_CHECK(b >= 0 && b < shape_.num_blocks);
                const Status st = copy_bytes(dst, Device::kCpu, base + b * bytes, shape_.device, bytes);
                KITE_CHECK_MSG(st.is_ok(), st.message());
                dst += bytes;
            }
        }
    }
    return out;
}

void KvCache::load_blocks(const std::vector<int>& blocks, const std::vector<uint8_t>& saved) {
    KITE_CHECK(saved.size() == blocks.size() * static_cast<size_t>(shape_.bytes_per_block()));
    const uint8_t* src = saved.data();
    for (int l = 0; l < shape_.num_layers; ++l) {
        for (const Tensor* pool : pools(l)) {
            const int64_t bytes = pool->nbytes() / shape_.num_blocks;
            auto* base = static_cast<uint8_t*>(const_cast<void*>(pool->raw()));
            for (int b : blocks) {
                KITE_CHECK(b >= 0 && b < shape_.num_blocks);
                const Status st = copy_bytes(base + b * bytes, shape_.device, src, Device::kCpu, bytes);
                KITE_CHECK_MSG(st.is_ok(), st.message());
                src += bytes;
            }
        }
    }
}

}  // namespace kite
