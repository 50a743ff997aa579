// ops::paged_attention: validation of the batch metadata, then dispatch.
#include "ops/cpu/kernels.h"
#include "ops/cuda/kernels.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace kite::ops {

Status paged_attention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                       std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                       const std::vector<std::vector<int32_t>>& block_tables, const AttentionParams& p,
                       Tensor& out) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("paged_attention", {&q, &k_pool, &v_pool, &out}, &dev));
    KITE_RETURN_IF_ERROR(require_shape("paged_attention", "q", q, 3));
    KITE_RETURN_IF_ERROR(require_shape("paged_attention", "k_pool", k_pool, 4));
    const int64_t heads = q.dim(1), head_dim = q.dim(2);
    const int64_t num_blocks = k_pool.dim(0), block_size = k_pool.dim(1), kv_heads = k_pool.dim(2);
    if (k_pool.dim(3) != head_dim || heads % kv_heads != 0 || out.numel() != q.numel())
        return invalid_argument("paged_attention: q " + q.shape_string() + " and pool " + k_pool.shape_string() +
                                " disagree");
    const size_t num_seqs = context_lens.size();
    if (query_start.size() != num_seqs + 1 || block_tables.size() != num_seqs || query_start[num_seqs] != q.dim(0))
        return invalid_argument("paged_attention: batch metadata does not describe the query rows");
    for (size_t s = 0; s < num_seqs; ++s) {
        const int32_t n_new = query_start[s + 1] - query_start[s];
        if (n_new < 0 || context_lens[s] < n_new)
            return invalid_argument("paged_attention: sequence " + std::to_string(s) + " has more new tokens than context");
        if (static_cast<int64_t>(block_tables[s].size()) * block_size < context_lens[s])
            return invalid_argument("paged_attention: sequence " + std::to_string(s) + " block table too short for " +
                                    std::to_string(context_lens[s]) + " tokens");
        for (int32_t b : block_tables[s]) {
            if (b < 0 || b >= num_blocks) return invalid_argument("paged_attention: block id " + std::to_string(b) + " outside the pool");
        }
    }
    return KITE_DISPATCH(dev, paged_attention, q.data<float>(), k_pool.data<float>(), v_pool.data<float>(), heads,
                         kv_heads, head_dim, block_size, query_start, context_lens, block_tables, p, out.data<float>());
}

}  // namespace kite::ops
