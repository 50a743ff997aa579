// Paged causal attention on the GPU, first cut: one thread block per (query token, head). For head
// dims that are a multiple of 32 (up to 256) each warp walks every kWarps-th key, its lanes holding
// a strided slice of the row (coalesced loads), with its own online softmax; the warps' partial
// results merge at the end. When (tokens x heads) blocks would leave most SMs idle (decode), the
// context is also split into partitions of kPartitionKeys, one block each, merged by a second
// kernel (flash decoding). Other head dims take a generic kernel (one key per thread, tiles of 128
// keys), as do value head dims unlike the key's (MLA). Logit soft-capping and ALiBi modify each
// score where it is computed, as the CPU kernel does. Several heads of a GQA group per block come
// next (docs/cuda.md).
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/attention_math.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/kernels.h"

namespace kite::ops::cuda {

namespace {

constexpr int kThreads = 128;

// meta (int32): tok_seq[T], tok_pos[T], seq_table_off[S], tables (all sequences' block ids).
// The score options of head h: the call's options with this head's ALiBi slope (slopes is null
// without ALiBi), as ops/attention_math.h's score_mods builds them on the host.
__device__ inline ScoreMods head_mods(ScoreMods m, const float* slopes, int h) {
    if (slopes != nullptr) m.slope = m.falcon ? round_bf16(slopes[h]) : slopes[h];
    return m;
}

__global__ void paged_attention_kernel(const float* q, const float* k_pool, const float* v_pool, float* out,
                                       const int32_t* tok_seq, const int32_t* tok_pos, const int32_t* seq_table_off,
                                       const int32_t* tables, int heads, int group, int D, int Dv, int block_size,
                                       int64_t k_stride, int64_t v_stride, int window, ScoreMods base,
                                       const float* slopes) {
    extern __shared__ float sm[];
    float* qs = sm;           // [D]
    float* acc = qs + D;      // [Dv]
    float* ps = acc + Dv;     // [blockDim.x] probabilities of the current tile
    float* red = ps + blockDim.x;  // [32]
    const int t = blockIdx.x, h = blockIdx.y;
    const int kvh = h / group;
    const int pos = tok_pos[t];
    const int32_t* table = tables + seq_table_off[tok_seq[t]];
    const float* qv = q + (int64_t(t) * heads + h) * D;
    const ScoreMods mods = head_mods(base, slopes, h);
    for (int d = threadIdx.x; d < D; d += blockDim.x) qs[d] = qv[d];
    for (int d = threadIdx.x; d < Dv; d += blockDim.x) acc[d] = 0.0f;
    __syncthreads();
    const int first = window > 0 ? max(0, pos - window + 1) : 0;
    float m = -INFINITY, l = 0.0f;  // running max and denominator, the same in every thread
    for (int j0 = first; j0 <= pos; j0 += blockDim.x) {
        const int j = j0 + threadIdx.x;
        float s = -INFINITY;
        if (j <= pos) {
            const int64_t slot = int64_t(table[j / block_size]) * block_size + j % block_size;
            const float* kr = k_pool + slot * k_stride + int64_t(kvh) * D;
            float dot = 0.0f;
            for (int d = 0; d < D; ++d) dot += qs[d] * kr[d];
            s = dot * mods.qk_scale;
            if (mods.any()) s = modify_score(s, mods, j, pos);
        }
        const float m_new = fmaxf(m, block_max(s, red));
        const float alpha = __expf(m - m_new);  // 0 on the first tile (m = -inf)
        const float pj = j <= pos ? expf(s - m_new) : 0.0f;
        ps[threadIdx.x] = pj;
        l = l * alpha + block_sum(pj, red);  // block_sum's barriers also publish ps
        const int n = min(int(blockDim.x), pos - j0 + 1);
        for (int d = threadIdx.x; d < Dv; d += blockDim.x) {
            float a = acc[d] * alpha;
            for (int jj = 0; jj < n; ++jj) {
                const int key = j0 + jj;
                const int64_t off =
                    (int64_t(table[key / block_size]) * block_size + key % block_size) * v_stride + int64_t(kvh) * Dv;
                a += ps[jj] * v_pool[off + d];
            }
            acc[d] = a;
        }
        m = m_new;
        __syncthreads();  // ps is rewritten by the next tile
    }
    float* o = out + (int64_t(t) * heads + h) * Dv;
    for (int d = threadIdx.x; d < Dv; d += blockDim.x) o[d] = acc[d] / l;
}

constexpr int kWarps = 4;

// EPL = head_dim / 32 elements per lane: lane l holds dims l, l + 32, ... of q, acc and each row.
constexpr int kPartitionKeys = 128;
constexpr int kMinBlocksBeforeSplit = 264;  // two per SM of an H100

// blockIdx.z = partition of the visible keys (gridDim.z == 1: no split, `out` gets the result).
// With a split, `part` gets per (token, head, partition): D unnormalized outputs, the max, the sum.
template <int EPL>
__global__ void paged_attention_warp_kernel(const float* q, const float* k_pool, const float* v_pool, float* out,
                                            float* part, const int32_t* tok_seq, const int32_t* tok_pos,
                                            const int32_t* seq_table_off, const int32_t* tables, int heads, int group,
                                            int block_size, int64_t slot_stride, int window, ScoreMods base,
                                            const float* slopes) {
    constexpr int D = EPL * 32;
    __shared__ float part_m[kWarps], part_l[kWarps];
    __shared__ float part_acc[kWarps][D];
    const int t = blockIdx.x, h = blockIdx.y;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int kvh = h / group;
    const int pos = tok_pos[t];
    const int32_t* table = tables + seq_table_off[tok_seq[t]];
    const float* qv = q + (int64_t(t) * heads + h) * D;
    const ScoreMods mods = head_mods(base, slopes, h);
    float qr[EPL], acc[EPL];
#pragma unroll
    for (int i = 0; i < EPL; ++i) {
        qr[i] = qv[lane + 32 * i] * mods.qk_scale;
        acc[i] = 0.0f;
    }
    const int first = window > 0 ? max(0, pos - window + 1) : 0;
    const int lo = first + int(blockIdx.z) * kPartitionKeys;
    const int hi = gridDim.z == 1 ? pos : min(pos, lo + kPartitionKeys - 1);
    float m = -INFINITY, l = 0.0f;
    for (int j = lo + warp; j <= hi; j += kWarps) {
        const int64_t off = (int64_t(table[j / block_size]) * block_size + j % block_size) * slot_stride + int64_t(kvh) * D;
        const float* kr = k_pool + off;
        const float* vr = v_pool + off;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < EPL; ++i) dot += qr[i] * kr[lane + 32 * i];
        float s = warp_sum(dot);
        if (mods.any()) s = modify_score(s, mods, j, pos);
        const float m_new = fmaxf(m, s);
        const float alpha = __expf(m - m_new);
        const float p = expf(s - m_new);
        l = l * alpha + p;
#pragma unroll
        for (int i = 0; i < EPL; ++i) acc[i] = acc[i] * alpha + p * vr[lane + 32 * i];
        m = m_new;
    }
    if (lane == 0) {
        part_m[warp] = m;
        part_l[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < EPL; ++i) part_acc[warp][lane + 32 * i] = acc[i];
    __syncthreads();
    if (warp != 0) return;
    float gm = -INFINITY;
    for (int w = 0; w < kWarps; ++w) gm = fmaxf(gm, part_m[w]);
    float gl = 0.0f, o[EPL] = {};
    for (int w = 0; w < kWarps; ++w) {
        if (part_m[w] == -INFINITY) continue;  // a warp that saw no key (context shorter than kWarps)
        const float f = __expf(part_m[w] - gm);
        gl += part_l[w] * f;
#pragma unroll
        for (int i = 0; i < EPL; ++i) o[i] += part_acc[w][lane + 32 * i] * f;
    }
    if (gridDim.z > 1) {  // a partition's share; gm = -inf and gl = 0 when it held no key
        float* pv = part + ((int64_t(t) * heads + h) * gridDim.z + blockIdx.z) * (D + 2);
#pragma unroll
        for (int i = 0; i < EPL; ++i) pv[lane + 32 * i] = o[i];
        if (lane == 0) {
            pv[D] = gm;
            pv[D + 1] = gl;
        }
        return;
    }
    float* ov = out + (int64_t(t) * heads + h) * D;
#pragma unroll
    for (int i = 0; i < EPL; ++i) ov[lane + 32 * i] = o[i] / gl;
}

// Merges the partitions of one (token, head): rescale each to the global max, sum, normalize.
__global__ void merge_partitions_kernel(const float* part, float* out, int heads, int D, int P) {
    const int t = blockIdx.x, h = blockIdx.y;
    const float* base = part + (int64_t(t) * heads + h) * P * (D + 2);
    float gm = -INFINITY;
    for (int p = 0; p < P; ++p) gm = fmaxf(gm, base[p * (D + 2) + D]);
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float gl = 0.0f, o = 0.0f;
        for (int p = 0; p < P; ++p) {
            const float* pv = base + p * (D + 2);
            if (pv[D] == -INFINITY) continue;
            const float f = __expf(pv[D] - gm);
            gl += pv[D + 1] * f;
            o += pv[d] * f;
        }
        out[(int64_t(t) * heads + h) * D + d] = o / gl;
    }
}

}  // namespace

Status paged_attention(const float* q, const float* k_pool, const float* v_pool, int64_t heads, int64_t kv_heads,
                       int64_t head_dim, int64_t v_head_dim, int64_t block_size, std::span<const int32_t> query_start,
                       std::span<const int32_t> context_lens, const std::vector<std::vector<int32_t>>& block_tables,
                       const AttentionParams& p, float* out) {
    const size_t S = context_lens.size();
    const int32_t T = query_start[S];
    if (T == 0 || heads == 0) return Status::ok();
    // One upload of all metadata for the call.
    std::vector<int32_t> meta(size_t(2) * T + S);
    int32_t* tok_seq = meta.data();
    int32_t* tok_pos = tok_seq + T;
    int32_t* seq_off = tok_pos + T;
    int32_t off = static_cast<int32_t>(meta.size());
    for (size_t s = 0; s < S; ++s) {
        const int32_t b = query_start[s], e = query_start[s + 1];
        for (int32_t t = b; t < e; ++t) {
            tok_seq[t] = static_cast<int32_t>(s);
            tok_pos[t] = context_lens[s] - (e - b) + (t - b);
        }
        seq_off[s] = off;
        off += static_cast<int32_t>(block_tables[s].size());
    }
    for (size_t s = 0; s < S; ++s) meta.insert(meta.end(), block_tables[s].begin(), block_tables[s].end());
    // ALiBi slopes ride along as f32 bits after the tables.
    const size_t slopes_at = meta.size();
    meta.resize(slopes_at + p.alibi_slopes.size());
    if (!p.alibi_slopes.empty()) std::memcpy(meta.data() + slopes_at, p.alibi_slopes.data(), p.alibi_slopes.size_bytes());
    void* dev = nullptr;
    KITE_RETURN_IF_ERROR(upload(kScratchAttention, meta.data(), meta.size() * sizeof(int32_t), &dev));
    const auto* d = static_cast<const int32_t*>(dev);
    const ScoreMods mods = score_mods(p, 0);  // head 0's slope; each block takes its own from `slopes`
    const float* slopes = p.alibi_slopes.empty() ? nullptr : reinterpret_cast<const float*>(d + slopes_at);
    const int D = static_cast<int>(head_dim), Dv = static_cast<int>(v_head_dim);
    const dim3 grid(static_cast<unsigned>(T), static_cast<unsigned>(heads));
    const int group = static_cast<int>(heads / kv_heads);
    const int64_t stride = kv_heads * head_dim;
    if (D == Dv && (D == 32 || D == 64 || D == 96 || D == 128 || D == 256)) {
        // Partitions: enough to cover the longest visible context, when the grid is small.
        int64_t max_visible = 0;
        for (size_t s = 0; s < S; ++s)
            max_visible = std::max<int64_t>(max_visible, p.sliding_window > 0 ? std::min(p.sliding_window, context_lens[s])
                                                                              : context_lens[s]);
        int P = 1;
        if (int64_t(T) * heads < kMinBlocksBeforeSplit)
            P = static_cast<int>(std::max<int64_t>(1, (max_visible + kPartitionKeys - 1) / kPartitionKeys));
        void* part = nullptr;
        if (P > 1) KITE_RETURN_IF_ERROR(scratch(kScratchPartial, size_t(T) * heads * P * (D + 2) * sizeof(float), &part));
        const dim3 wgrid(static_cast<unsigned>(T), static_cast<unsigned>(heads), static_cast<unsigned>(P));
#define KITE_WARP_ATTENTION(EPL)                                                                                    \
    paged_attention_warp_kernel<EPL><<<wgrid, kWarps * 32>>>(q, k_pool, v_pool, out, static_cast<float*>(part), d,  \
                                                             d + T, d + 2 * T, d, static_cast<int>(heads), group,    \
                                                             static_cast<int>(block_size), stride,                   \
                                                             p.sliding_window, mods, slopes)
        switch (D) {
            case 32: KITE_WARP_ATTENTION(1); break;
            case 64: KITE_WARP_ATTENTION(2); break;
            case 96: KITE_WARP_ATTENTION(3); break;
            case 128: KITE_WARP_ATTENTION(4); break;
            default: KITE_WARP_ATTENTION(8); break;  // 256
        }
#undef KITE_WARP_ATTENTION
        KITE_RETURN_IF_ERROR(launch_status("paged_attention"));
        if (P == 1) return Status::ok();
        merge_partitions_kernel<<<grid, D>>>(static_cast<const float*>(part), out, static_cast<int>(heads), D, P);
        return launch_status("paged_attention (merge)");
    }
    const size_t smem = (size_t(D) + Dv + kThreads + 32) * sizeof(float);
    if (smem > 48 * 1024)
        return unimplemented("paged_attention: head dims " + std::to_string(D) + " / " + std::to_string(Dv) +
                             " are too large for the CUDA kernel");
    paged_attention_kernel<<<grid, kThreads, smem>>>(q, k_pool, v_pool, out, d, d + T, d + 2 * T, d,
                                                      static_cast<int>(heads), group, D, Dv, static_cast<int>(block_size),
                                                      stride, kv_heads * v_head_dim, p.sliding_window, mods, slopes);
    return launch_status("paged_attention");
}

}  // namespace kite::ops::cuda
