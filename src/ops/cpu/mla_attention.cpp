// Multi-head latent attention on the CPU (ops/mla.h). Every (token, head) is computed on its own,
// each dot product in one fixed 8-lane order, keys and values summed in key order: nothing depends
// on the batch, the chunking or the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/moe_kernels.h"

namespace kite::ops::cpu {

namespace {

constexpr int64_t kMinMacsPerChunk = 64 * 1024;

// dot(a, b) over n floats: 8 lanes (element i in lane i % 8), then a fixed pairwise lane sum.
inline float dot(const float* a, const float* b, int64_t n) {
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) lane[l] = std::fma(a[i + l], b[i + l], lane[l]);
    for (int l = 0; i < n; ++i, ++l) lane[l] = std::fma(a[i], b[i], lane[l]);
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

// x[0, half) and x[half, 2 half) rotated by the per-pair angle (cos/sin [half]), in place.
inline void rope_halves(float* x, int64_t half, const float* c, const float* s) {
    for (int64_t i = 0; i < half; ++i) {
        const float a = x[i], b = x[i + half];
        x[i] = a * c[i] - b * s[i];
        x[i + half] = b * c[i] + a * s[i];
    }
}

int64_t grain_for(int64_t items, int64_t macs) {
    return std::max<int64_t>(1, items * kMinMacsPerChunk / std::max<int64_t>(1, macs));
}

}  // namespace

void mla_write_latent(const float* kv_a, int64_t T, const MlaDims& d, const float* norm_w, float eps, const float* cos,
                      const float* sin, std::span<const int64_t> slots, float* pool) {
    const int64_t row = d.row(), half = d.rope / 2;
    for (int64_t t = 0; t < T; ++t) {
        float* dst = pool + slots[t] * row;
        rms_norm(kv_a + t * row, norm_w, 1, d.latent, eps, 0.0f, dst);
        std::memcpy(dst + d.latent, kv_a + t * row + d.latent, d.rope * sizeof(float));
        rope_halves(dst + d.latent, half, cos + t * half, sin + t * half);
    }
}

void mla_absorb_query(const float* q, int64_t T, const MlaDims& d, const float* w_uk_t, const float* cos,
                      const float* sin, float* q_abs) {
    const int64_t qd = d.nope + d.rope, row = d.row(), half = d.rope / 2, items = T * d.heads;
    parallel_for(items, grain_for(items, items * d.latent * d.nope), [&](int64_t b, int64_t e) {
        for (int64_t it = b; it < e; ++it) {
            const int64_t t = it / d.heads, h = it % d.heads;
            const float* qn = q + it * qd;
            float* o = q_abs + it * row;
            const float* w = w_uk_t + h * d.latent * d.nope;
            for (int64_t i = 0; i < d.latent; ++i) o[i] = dot(w + i * d.nope, qn, d.nope);
            std::memcpy(o + d.latent, qn + d.nope, d.rope * sizeof(float));
            rope_halves(o + d.latent, half, cos + t * half, sin + t * half);
        }
    });
}

void mla_attention(const float* q_abs, const float* pool, int64_t T, const MlaDims& d, int64_t block_size,
                   std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                   const std::vector<std::vector<int32_t>>& block_tables, float scale, float* out_latent) {
    const int64_t num_seqs = static_cast<int64_t>(context_lens.size()), row = d.row(), L = d.latent;
    std::vector<int32_t> seq_of(T);
    int64_t macs = 0;
    for (int64_t s = 0; s < num_seqs; ++s) {
        for (int32_t t = query_start[s]; t < query_start[s + 1]; ++t) seq_of[t] = static_cast<int32_t>(s);
        macs += int64_t(query_start[s + 1] - query_start[s]) * context_lens[s];
    }
    const int64_t items = T * d.heads;
    macs *= d.heads * (row + L);
    parallel_for(items, grain_for(items, macs), [&](int64_t b, int64_t e) {
        std::vector<float> p;
        std::vector<const float*> rows;
        for (int64_t it = b; it < e; ++it) {
            const int64_t t = it / d.heads;
            const int32_t s = seq_of[t];
            const int64_t pos = context_lens[s] - (query_start[s + 1] - query_start[s]) + (t - query_start[s]);
            const int64_t n = pos + 1;
            rows.resize(n);
            p.resize(n);
            const std::vector<int32_t>& table = block_tables[s];
            for (int64_t j = 0; j < n; ++j)
                rows[j] = pool + (int64_t(table[j / block_size]) * block_size + j % block_size) * row;
            const float* qv = q_abs + it * row;
            float mx = -INFINITY;
            for (int64_t j = 0; j < n; ++j) mx = std::max(mx, p[j] = dot(qv, rows[j], row) * scale);
            float sum = 0;
            for (int64_t j = 0; j < n; ++j) sum += (p[j] = std::exp(p[j] - mx));
            const float inv = 1.0f / sum;
            float* o = out_latent + it * L;
            std::fill(o, o + L, 0.0f);
            for (int64_t j = 0; j < n; ++j) {
                const float pj = p[j];
                const float* c = rows[j];
                for (int64_t i = 0; i < L; ++i) o[i] = std::fma(pj, c[i], o[i]);
            }
            for (int64_t i = 0; i < L; ++i) o[i] *= inv;
        }
    });
}

void mla_project_values(const float* o_lat, int64_t T, const MlaDims& d, const float* w_uv, float* out) {
    const int64_t items = T * d.heads;
    parallel_for(items, grain_for(items, items * d.v * d.latent), [&](int64_t b, int64_t e) {
        for (int64_t it = b; it < e; ++it) {
            const int64_t h = it % d.heads;
            const float* x = o_lat + it * d.latent;
            const float* w = w_uv + h * d.v * d.latent;
            float* o = out + it * d.v;  // [T, heads * v] row-major = [T, heads, v]
            for (int64_t i = 0; i < d.v; ++i) o[i] = dot(w + i * d.latent, x, d.latent);
        }
    });
}

}  // namespace kite::ops::cpu
