// ops::write_kv_quant / ops::paged_attention_quant: validation, then the CPU kernels
// (ops/cpu/kv8_attention.cpp). No CUDA kernel yet: an 8-bit cache on the GPU is an error.
#include "ops/kv_quant.h"

#include "ops/cpu/kv8_kernels.h"
#include "ops/dispatch.h"

namespace kite::ops {

namespace {

DType code_dtype(KvCacheDtype d) { return d == KvCacheDtype::kInt8 ? DType::kI8 : DType::kU8; }

Status check_pools(const char* op, KvCacheDtype dtype, const Tensor& k_pool, const Tensor& v_pool, const Tensor& k_scale,
                   const Tensor& v_scale) {
    if (dtype == KvCacheDtype::kAuto) return invalid_argument(std::string(op) + ": the cache is f32 (use the f32 ops)");
    for (const Tensor* t : {&k_pool, &v_pool, &k_scale, &v_scale}) {
        if (t->device() != Device::kCpu)
            return unimplemented(std::string(op) + ": an 8-bit KV cache has no CUDA kernel yet (use --kv-cache-dtype auto on CUDA)");
    }
    KITE_RETURN_IF_ERROR(require_shape(op, "k_pool", k_pool, 4));
    if (k_pool.dtype() != code_dtype(dtype) || v_pool.dtype() != k_pool.dtype() || v_pool.shape() != k_pool.shape())
        return invalid_argument(std::string(op) + ": K/V pools must be " + dtype_name(code_dtype(dtype)) + " of one shape");
    const std::vector<int64_t> sshape = {k_pool.dim(0), k_pool.dim(1), k_pool.dim(2)};
    if (k_scale.dtype() != DType::kF32 || v_scale.dtype() != DType::kF32 || k_scale.shape() != sshape || v_scale.shape() != sshape)
        return invalid_argument(std::string(op) + ": scales must be f32 [blocks, block_size, kv_heads]");
    return Status::ok();
}

cpu::Kv8Pools pools(Tensor& k_pool, Tensor& v_pool, Tensor& k_scale, Tensor& v_scale) {
    return {static_cast<uint8_t*>(k_pool.raw()), static_cast<uint8_t*>(v_pool.raw()), k_scale.data<float>(),
            v_scale.data<float>(), k_pool.dim(1), k_pool.dim(2), k_pool.dim(3)};
}

}  // namespace

Status write_kv_quant(KvCacheDtype dtype, const Tensor& k, const Tensor& v, std::span<const int64_t> slot_mapping,
                      Tensor& k_pool, Tensor& v_pool, Tensor& k_scale, Tensor& v_scale) {
    KITE_RETURN_IF_ERROR(check_pools("write_kv", dtype, k_pool, v_pool, k_scale, v_scale));
    KITE_RETURN_IF_ERROR(require_f32("write_kv", "k", k));
    KITE_RETURN_IF_ERROR(require_f32("write_kv", "v", v));
    KITE_RETURN_IF_ERROR(require_shape("write_kv", "k", k, 3));
    const int64_t T = k.dim(0), slots = k_pool.dim(0) * k_pool.dim(1);
    if (v.shape() != k.shape() || k.dim(1) != k_pool.dim(2) || k.dim(2) != k_pool.dim(3))
        return invalid_argument("write_kv: k " + k.shape_string() + " / v " + v.shape_string() + " do not match the pool " +
                                k_pool.shape_string());
    if (static_cast<int64_t>(slot_mapping.size()) != T) return invalid_argument("write_kv: one slot per token expected");
    for (int64_t s : slot_mapping) {
        if (s < 0 || s >= slots) return invalid_argument("write_kv: slot " + std::to_string(s) + " outside the pool");
    }
    cpu::Kv8Pools p = pools(k_pool, v_pool, k_scale, v_scale);
    cpu::write_kv8(dtype == KvCacheDtype::kFp8, k.data<float>(), v.data<float>(), T, k.dim(1), k.dim(2), slot_mapping, p);
    return Status::ok();
}

Status paged_attention_quant(KvCacheDtype dtype, const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                             const Tensor& k_scale, const Tensor& v_scale, std::span<const int32_t> query_start,
                             std::span<const int32_t> context_lens,
                             const std::vector<std::vector<int32_t>>& block_tables, const AttentionParams& p,
                             Tensor& out) {
    KITE_RETURN_IF_ERROR(check_pools("paged_attention", dtype, k_pool, v_pool, k_scale, v_scale));
    KITE_RETURN_IF_ERROR(require_f32("paged_attention", "q", q));
    KITE_RETURN_IF_ERROR(require_shape("paged_attention", "q", q, 3));
    const int64_t heads = q.dim(1), head_dim = q.dim(2);
    const int64_t num_blocks = k_pool.dim(0), block_size = k_pool.dim(1), kv_heads = k_pool.dim(2);
    if (k_pool.dim(3) != head_dim || heads % kv_heads != 0 || out.numel() != q.numel() || out.dtype() != DType::kF32)
        return invalid_argument("paged_attention: q " + q.shape_string() + " and pool " + k_pool.shape_string() + " disagree");
    if (p.alibi_falcon_bf16)
        return unimplemented("paged_attention: Falcon's bf16 ALiBi form with an 8-bit KV cache is not supported (use --kv-cache-dtype auto)");
    if (!p.alibi_slopes.empty() && static_cast<int64_t>(p.alibi_slopes.size()) != heads)
        return invalid_argument("paged_attention: " + std::to_string(p.alibi_slopes.size()) + " ALiBi slopes for " +
                                std::to_string(heads) + " heads");
    const size_t num_seqs = context_lens.size();
    if (query_start.size() != num_seqs + 1 || block_tables.size() != num_seqs || query_start[num_seqs] != q.dim(0))
        return invalid_argument("paged_attention: batch metadata does not describe the query rows");
    for (size_t s = 0; s < num_seqs; ++s) {
        const int32_t n_new = query_start[s + 1] - query_start[s];
        if (n_new < 0 || context_lens[s] < n_new)
            return invalid_argument("paged_attention: sequence " + std::to_string(s) + " has more new tokens than context");
        if (static_cast<int64_t>(block_tables[s].size()) * block_size < context_lens[s])
            return invalid_argument("paged_attention: sequence " + std::to_string(s) + " block table too short");
        for (int32_t b : block_tables[s]) {
            if (b < 0 || b >= num_blocks) return invalid_argument("paged_attention: block id " + std::to_string(b) + " outside the pool");
        }
    }
    Tensor& kp = const_cast<Tensor&>(k_pool);  // the kernel only reads through these
    Tensor& vp = const_cast<Tensor&>(v_pool);
    const cpu::Kv8Pools pl = pools(kp, vp, const_cast<Tensor&>(k_scale), const_cast<Tensor&>(v_scale));
    cpu::paged_attention_kv8(dtype == KvCacheDtype::kFp8, q.data<float>(), heads, pl, query_start, context_lens,
                             block_tables, p, out.data<float>());
    return Status::ok();
}

}  // namespace kite::ops
