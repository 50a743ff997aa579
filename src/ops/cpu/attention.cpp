// Paged causal attention on the CPU. Each (query token, head) is computed on its own: scores over
// its visible keys read through the block table, an exact softmax, then the weighted sum of values
// in key order. Nothing depends on how tokens were batched or chunked.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/kernels.h"

namespace kite::ops::cpu {

void paged_attention(const float* q, const float* k_pool, const float* v_pool, int64_t heads, int64_t kv_heads,
                     int64_t head_dim, int64_t block_size, std::span<const int32_t> query_start,
                     std::span<const int32_t> context_lens, const std::vector<std::vector<int32_t>>& block_tables,
                     const AttentionParams& p, float* out) {
    const int64_t num_seqs = static_cast<int64_t>(context_lens.size());
    const int64_t T = query_start[num_seqs];
    const int64_t group = heads / kv_heads;
    const int64_t slot_stride = kv_heads * head_dim;  // floats per token slot
    // Row -> sequence lookup so work can be split over (token, head) pairs.
    std::vector<int32_t> seq_of(T);
    for (int64_t s = 0; s < num_seqs; ++s)
        for (int32_t t = query_start[s]; t < query_start[s + 1]; ++t) seq_of[t] = static_cast<int32_t>(s);

    parallel_for(T * heads, 4, [&](int64_t begin, int64_t end) {
        std::vector<float> scores;
        for (int64_t item = begin; item < end; ++item) {
            const int64_t t = item / heads, h = item % heads, kvh = h / group;
            const int32_t s = seq_of[t];
            const int32_t n_new = query_start[s + 1] - query_start[s];
            const int64_t pos = context_lens[s] - n_new + (t - query_start[s]);
            const int64_t first = p.sliding_window > 0 ? std::max<int64_t>(0, pos - p.sliding_window + 1) : 0;
            const float* qv = q + (t * heads + h) * head_dim;
            const std::vector<int32_t>& table = block_tables[s];
            scores.resize(pos - first + 1);
            float mx = -INFINITY;
            for (int64_t j = first; j <= pos; ++j) {
                const float* kv = k_pool + (table[j / block_size] * block_size + j % block_size) * slot_stride + kvh * head_dim;
                float dot = 0.0f;
                for (int64_t d = 0; d < head_dim; ++d) dot += qv[d] * kv[d];
                dot *= p.scale;
                scores[j - first] = dot;
                mx = std::max(mx, dot);
            }
            float sum = 0.0f;
            for (float& sc : scores) {
                sc = std::exp(sc - mx);
                sum += sc;
            }
            const float inv = 1.0f / sum;
            float* o = out + (t * heads + h) * head_dim;
            std::fill(o, o + head_dim, 0.0f);
            for (int64_t j = first; j <= pos; ++j) {
                const float* vv = v_pool + (table[j / block_size] * block_size + j % block_size) * slot_stride + kvh * head_dim;
                const float w = scores[j - first] * inv;
                for (int64_t d = 0; d < head_dim; ++d) o[d] += w * vv[d];
            }
        }
    });
}

}  // namespace kite::ops::cpu
