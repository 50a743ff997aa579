// ops::paged_attention: validation of the batch metadata and of the score options, then dispatch;
// and the ALiBi slopes as transformers computes them.
#include <cmath>

#include "ops/cpu/kernels.h"
#include "ops/cuda/kernels.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace kite::ops {

std::vector<float> alibi_slopes(int64_t num_heads) {
    std::vector<float> slopes;
    if (num_heads <= 0) return slopes;
    // transformers' build_alibi_tensor: bases are Python floats rounded to f32, powers taken in f32
    // (here in double from the same f32 base, then rounded: within an ulp of torch.pow).
    const int64_t closest = int64_t(1) << static_cast<int>(std::floor(std::log2(static_cast<double>(num_heads))));
    const auto base_for = [](int64_t n) {
        return static_cast<float>(std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3.0))));
    };
    const double base = base_for(closest);
    for (int64_t i = 1; i <= closest; ++i) slopes.push_back(static_cast<float>(std::pow(base, static_cast<double>(i))));
    if (closest != num_heads) {
        const double extra = base_for(2 * closest);
        const int64_t remaining = std::min(closest, num_heads - closest);
        for (int64_t i = 0; i < remaining; ++i)
            slopes.push_back(static_cast<float>(std::pow(extra, static_cast<double>(2 * i + 1))));
    }
    return slopes;
}

Status paged_attention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                       std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                       const std::vector<std::vector<int32_t>>& block_tables, const AttentionParams& p,
                       Tensor& out) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("paged_attention", {&q, &k_pool, &v_pool, &out}, &dev));
    KITE_RETURN_IF_ERROR(require_shape("paged_attention", "q", q, 3));
    KITE_RETURN_IF_ERROR(require_shape("paged_attention", "k_pool", k_pool, 4));
    KITE_RETURN_IF_ERROR(require_shape("paged_attention", "v_pool", v_pool, 4));
    for (const Tensor* t : std::initializer_list<const Tensor*>{&q, &k_pool, &v_pool, &out})
        KITE_RETURN_IF_ERROR(require_f32("paged_attention", "every tensor", *t));
    const int64_t T = q.dim(0), heads = q.dim(1), head_dim = q.dim(2);
    const int64_t num_blocks = k_pool.dim(0), block_size = k_pool.dim(1), kv_heads = k_pool.dim(2);
    const int64_t v_head_dim = v_pool.dim(3);
    if (k_pool.dim(3) != head_dim || kv_heads == 0 || heads % kv_heads != 0)
        return invalid_argument("paged_attention: q " + q.shape_string() + " and pool " + k_pool.shape_string() +
                                " disagree");
    if (v_pool.dim(0) != num_blocks || v_pool.dim(1) != block_size || v_pool.dim(2) != kv_heads)
        return invalid_argument("paged_attention: v_pool " + v_pool.shape_string() + " does not match k_pool " +
                                k_pool.shape_string() + " in blocks, block size or kv heads");
    if (out.numel() != T * heads * v_head_dim)
        return invalid_argument("paged_attention: out " + out.shape_string() + " must be [" + std::to_string(T) + ", " +
                                std::to_string(heads) + ", " + std::to_string(v_head_dim) + "]");
    if (!(p.logit_softcap >= 0.0f) || !std::isfinite(p.logit_softcap))
        return invalid_argument("paged_attention: logit_softcap " + std::to_string(p.logit_softcap) +
                                " must be 0 (off) or a positive finite number");
    if (!p.alibi_slopes.empty() && static_cast<int64_t>(p.alibi_slopes.size()) != heads)
        return invalid_argument("paged_attention: " + std::to_string(p.alibi_slopes.size()) + " ALiBi slopes for " +
                                std::to_string(heads) + " heads (expected one per query head)");
    if (p.alibi_falcon_bf16 && p.alibi_slopes.empty())
        return invalid_argument("paged_attention: alibi_falcon_bf16 is set but no ALiBi slopes were given");
    const size_t num_seqs = context_lens.size();
    if (query_start.size() != num_seqs + 1 || block_tables.size() != num_seqs || query_start[num_seqs] != T)
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
                         kv_heads, head_dim, v_head_dim, block_size, query_start, context_lens, block_tables, p,
                         out.data<float>());
}

}  // namespace kite::ops
