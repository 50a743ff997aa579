// Multi-head latent attention on the GPU (ops/mla.h), one thread block per token (latent write) or
// per (token, head). Attention walks the visible latent rows in tiles of kThreads keys in order:
// scores of a tile (one key per thread), a running max and sum (online softmax), and each thread
// accumulating its own latent dims. The order depends only on the token's own context, so a row's
// result does not depend on the batch. First cut: f32, CUDA cores; no split over long contexts.
#include <vector>

#include "ops/cuda/common.cuh"
#include "ops/cuda/moe_kernels.h"

namespace kite::ops::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kMaxDimsPerThread = 8;  // latent dims up to 1024

__device__ inline void rope_pair(const float* x, float* y, int half, const float* c, const float* s) {
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        const float a = x[i], b = x[i + half];
        y[i] = a * c[i] - b * s[i];
        y[i + half] = b * c[i] + a * s[i];
    }
}

__global__ void write_latent_kernel(const float* kv_a, int L, int R, const float* norm_w, float eps, const float* cos,
                                    const float* sin, const int64_t* slots, float* pool) {
    __shared__ float red[32];
    const int t = blockIdx.x, row = L + R, half = R / 2;
    const float* x = kv_a + int64_t(t) * row;
    float* dst = pool + slots[t] * row;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < L; i += blockDim.x) ss += x[i] * x[i];
    ss = block_sum(ss, red);
    const float inv = rsqrtf(ss / L + eps);
    for (int i = threadIdx.x; i < L; i += blockDim.x) dst[i] = norm_w[i] * (x[i] * inv);
    rope_pair(x + L, dst + L, half, cos + int64_t(t) * half, sin + int64_t(t) * half);
}

__global__ void absorb_query_kernel(const float* q, int heads, int L, int R, int nope, const float* w_uk_t,
                                    const float* cos, const float* sin, float* q_abs) {
    const int item = blockIdx.x, t = item / heads, h = item % heads, half = R / 2;
    const float* qn = q + int64_t(item) * (nope + R);
    float* o = q_abs + int64_t(item) * (L + R);
    const float* w = w_uk_t + int64_t(h) * L * nope;
    for (int i = threadIdx.x; i < L; i += blockDim.x) {
        float acc = 0.0f;
        for (int k = 0; k < nope; ++k) acc = fmaf(w[int64_t(i) * nope + k], qn[k], acc);
        o[i] = acc;
    }
    rope_pair(qn + nope, o + L, half, cos + int64_t(t) * half, sin + int64_t(t) * half);
}

// meta: [tok_seq (T) | tok_pos (T) | seq_off (S) | block tables...]
__global__ void attention_kernel(const float* q_abs, const float* pool, int heads, int L, int R, int block_size,
                                 const int32_t* meta, int T, float scale, float* out) {
    extern __shared__ float smem[];  // q (L + R) | p (kThreads)
    __shared__ float red[32];
    float* qs = smem;
    float* p = smem + L + R;
    const int item = blockIdx.x, t = item / heads, row = L + R;
    const int32_t s = meta[t], pos = meta[T + t];
    const int32_t* table = meta + meta[2 * T + s];
    for (int i = threadIdx.x; i < row; i += blockDim.x) qs[i] = q_abs[int64_t(item) * row + i];
    __syncthreads();
    float acc[kMaxDimsPerThread];
    for (int u = 0; u < kMaxDimsPerThread; ++u) acc[u] = 0.0f;
    float m = -INFINITY, denom = 0.0f;
    for (int j0 = 0; j0 <= pos; j0 += kThreads) {
        const int j = j0 + threadIdx.x;
        float sc = -INFINITY;
        if (j <= pos) {
            const float* k = pool + (int64_t(table[j / block_size]) * block_size + j % block_size) * row;
            float d = 0.0f;
            for (int i = 0; i < row; ++i) d = fmaf(qs[i], k[i], d);
            sc = d * scale;
        }
        const float tile_max = block_max(sc, red);
        const float m_new = fmaxf(m, tile_max);
        const float e = j <= pos ? expf(sc - m_new) : 0.0f;
        const float rescale = expf(m - m_new);  // 0 on the first tile (m = -inf)
        p[threadIdx.x] = e;
        const float tile_sum = block_sum(e, red);  // also a barrier: p is complete
        denom = denom * rescale + tile_sum;
        const int n = min(kThreads, pos + 1 - j0);
        for (int u = 0; u < kMaxDimsPerThread; ++u) {
            const int i = threadIdx.x + u * kThreads;
            if (i >= L) break;
            float a = acc[u] * rescale;
            for (int jj = 0; jj < n; ++jj) {
                const int kj = j0 + jj;
                const float* c = pool + (int64_t(table[kj / block_size]) * block_size + kj % block_size) * row;
                a = fmaf(p[jj], c[i], a);
            }
            acc[u] = a;
        }
        m = m_new;
        __syncthreads();  // p is rewritten by the next tile
    }
    const float inv = 1.0f / denom;
    for (int u = 0; u < kMaxDimsPerThread; ++u) {
        const int i = threadIdx.x + u * kThreads;
        if (i < L) out[int64_t(item) * L + i] = acc[u] * inv;
    }
}

__global__ void project_values_kernel(const float* o_lat, int heads, int L, int V, const float* w_uv, float* out) {
    const int item = blockIdx.x, h = item % heads;
    const float* x = o_lat + int64_t(item) * L;
    const float* w = w_uv + int64_t(h) * V * L;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float acc = 0.0f;
        for (int k = 0; k < L; ++k) acc = fmaf(w[int64_t(i) * L + k], x[k], acc);
        out[int64_t(item) * V + i] = acc;
    }
}

}  // namespace

Status mla_write_latent(const float* kv_a, int64_t T, const MlaDims& d, const float* norm_w, float eps, const float* cos,
                        const float* sin, std::span<const int64_t> slots, float* pool) {
    if (T == 0) return Status::ok();
    void* dev = nullptr;
    KITE_RETURN_IF_ERROR(upload(kScratchSlots, slots.data(), slots.size_bytes(), &dev));
    write_latent_kernel<<<unsigned(T), kThreads>>>(kv_a, int(d.latent), int(d.rope), norm_w, eps, cos, sin,
                                                   static_cast<const int64_t*>(dev), pool);
    return launch_status("mla_write_latent");
}

Status mla_absorb_query(const float* q, int64_t T, const MlaDims& d, const float* w_uk_t, const float* cos,
                        const float* sin, float* q_abs) {
    if (T == 0) return Status::ok();
    absorb_query_kernel<<<unsigned(T * d.heads), kThreads>>>(q, int(d.heads), int(d.latent), int(d.rope), int(d.nope),
                                                             w_uk_t, cos, sin, q_abs);
    return launch_status("mla_absorb_query");
}

Status mla_attention(const float* q_abs, const float* pool, int64_t T, const MlaDims& d, int64_t block_size,
                     std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                     const std::vector<std::vector<int32_t>>& block_tables, float scale, float* out_latent) {
    if (T == 0) return Status::ok();
    if (d.latent > int64_t(kThreads) * kMaxDimsPerThread)
        return unimplemented("mla_attention: CUDA kernel supports kv_lora_rank up to " +
                             std::to_string(kThreads * kMaxDimsPerThread));
    const size_t S = context_lens.size();
    std::vector<int32_t> meta(size_t(2) * T + S);
    int32_t off = static_cast<int32_t>(meta.size());
    for (size_t s = 0; s < S; ++s) {
        const int32_t b = query_start[s], e = query_start[s + 1];
        for (int32_t t = b; t < e; ++t) {
            meta[t] = static_cast<int32_t>(s);
            meta[T + t] = context_lens[s] - (e - b) + (t - b);
        }
        meta[2 * T + s] = off;
        off += static_cast<int32_t>(block_tables[s].size());
    }
    for (size_t s = 0; s < S; ++s) meta.insert(meta.end(), block_tables[s].begin(), block_tables[s].end());
    void* dev = nullptr;
    KITE_RETURN_IF_ERROR(upload(kScratchAttention, meta.data(), meta.size() * sizeof(int32_t), &dev));
    const size_t shared = size_t(d.row() + kThreads) * sizeof(float);
    attention_kernel<<<unsigned(T * d.heads), kThreads, shared>>>(q_abs, pool, int(d.heads), int(d.latent), int(d.rope),
                                                                  int(block_size), static_cast<const int32_t*>(dev),
                                                                  int(T), scale, out_latent);
    return launch_status("mla_attention");
}

Status mla_project_values(const float* o_lat, int64_t T, const MlaDims& d, const float* w_uv, float* out) {
    if (T == 0) return Status::ok();
    project_values_kernel<<<unsigned(T * d.heads), kThreads>>>(o_lat, int(d.heads), int(d.latent), int(d.v), w_uv, out);
    return launch_status("mla_project_values");
}

}  // namespace kite::ops::cuda
