// Integer weight-only linear on the GPU: one warp per output row streams the row's packed values
// (8 per lane step: one 32-bit word of nibbles or 8 bytes), dequantizes them in registers
// (scale * (q - zero), rounded to f16 when the checkpoint's kernels do), and accumulates up to four
// tokens per pass; act-order inputs are gathered once per part. A first cut for decode (small T):
// no tensor cores, no shared-memory tiling yet (docs/quantization.md).
#include <cuda_fp16.h>

#include "ops/cuda/common.cuh"
#include "ops/cuda/wq_kernels.h"

namespace kite::ops::cuda {

namespace {

constexpr int kWarpsPerBlock = 4;

__global__ void gather_kernel(const float* x, const int32_t* perm, int64_t T, int64_t K, int64_t parts, float* xp) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= parts * T * K) return;
    const int64_t p = i / (T * K), t = (i / K) % T, k = i % K;
    xp[i] = x[t * K + perm[p * K + k]];
}

template <int kBits, bool kRound>
__device__ inline float dq(int q, float s, float z) {
    const float v = s * (float(q) - z);
    if constexpr (kRound) return __half2float(__float2half_rn(v));
    return v;
}

template <int kBits>
__device__ inline int q_at(const uint8_t* row, int64_t k) {
    if constexpr (kBits == 4) return (row[k / 2] >> (4 * (k % 2))) & 15;
    return row[k];
}

template <int kBits, bool kRound>
__global__ void wq_kernel(const float* x, int64_t T, int64_t K, int64_t N, const uint8_t* q, int64_t row_bytes,
                          const float* scales, const float* zeros, int64_t G, int64_t groups, const int64_t* part_ends,
                          int64_t parts, const float* bias, float* out) {
    const int64_t n = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (n >= N) return;
    int64_t part = 0;
    while (part + 1 < parts && n >= part_ends[part]) ++part;
    const float* xr = x + part * T * K;  // parts > 1 only with act-order (x gathered per part)
    const uint8_t* row = q + n * row_bytes;
    const float* sc = scales + n * groups;
    const float* zr = zeros + n * groups;
    const int64_t chunks = K / 8;
    for (int64_t t0 = 0; t0 < T; t0 += 4) {
        const int nt = T - t0 < 4 ? int(T - t0) : 4;
        float acc[4] = {0, 0, 0, 0};
        for (int64_t c = lane; c < chunks; c += 32) {
            const int64_t k = c * 8, g = k / G;
            const float s = sc[g], z = zr[g];
            float w[8];
            if constexpr (kBits == 4) {
                const uint32_t word = *reinterpret_cast<const uint32_t*>(row + k / 2);
#pragma unroll
                for (int i = 0; i < 8; ++i) w[i] = dq<kBits, kRound>(int((word >> (4 * i)) & 15u), s, z);
            } else {
#pragma unroll
                for (int i = 0; i < 8; ++i) w[i] = dq<kBits, kRound>(row[k + i], s, z);
            }
            for (int j = 0; j < nt; ++j) {
                const float* xt = xr + (t0 + j) * K + k;
#pragma unroll
                for (int i = 0; i < 8; ++i) acc[j] = fmaf(w[i], xt[i], acc[j]);
            }
        }
        for (int64_t k = chunks * 8 + lane; k < K; k += 32) {  // rows whose length is not a multiple of 8
            const int64_t g = k / G;
            const float wv = dq<kBits, kRound>(q_at<kBits>(row, k), sc[g], zr[g]);
            for (int j = 0; j < nt; ++j) acc[j] = fmaf(wv, xr[(t0 + j) * K + k], acc[j]);
        }
        for (int j = 0; j < nt; ++j) {
            const float sum = warp_sum(acc[j]);
            if (lane == 0) out[(t0 + j) * N + n] = bias ? sum + bias[n] : sum;
        }
    }
}

}  // namespace

Status wq_matmul(const float* x, int64_t T, const Weight& w, const float* bias, float* out) {
    const IntWeightQuant& qz = w.quant;
    const int64_t K = qz.in_features, N = w.out_features(), groups = qz.scales.dim(1);
    int64_t parts = 1;
    const float* xin = x;
    const int64_t* part_ends = nullptr;
    if (qz.perm.defined()) {
        parts = qz.perm.dim(0);
        void* xp = nullptr;
        KITE_RETURN_IF_ERROR(scratch(kScratchCast, size_t(parts * T * K) * sizeof(float), &xp));
        const int64_t total = parts * T * K;
        gather_kernel<<<grid_for(total, 256), 256>>>(x, qz.perm.data<int32_t>(), T, K, parts, static_cast<float*>(xp));
        KITE_RETURN_IF_ERROR(launch_status("linear (act-order gather)"));
        xin = static_cast<const float*>(xp);
        void* ends = nullptr;
        KITE_RETURN_IF_ERROR(upload(kScratchIds, qz.part_end_rows.data(), qz.part_end_rows.size() * sizeof(int64_t), &ends));
        part_ends = static_cast<const int64_t*>(ends);
    }
    const unsigned blocks = static_cast<unsigned>((N + kWarpsPerBlock - 1) / kWarpsPerBlock);
    const auto* qp = w.t.data<uint8_t>();
    const int64_t rb = w.t.dim(1);
    const float* s = qz.scales.data<float>();
    const float* z = qz.zeros.data<float>();
    if (qz.bits == 4 && qz.round_f16)
        wq_kernel<4, true><<<blocks, 32 * kWarpsPerBlock>>>(xin, T, K, N, qp, rb, s, z, qz.group_size, groups, part_ends, parts, bias, out);
    else if (qz.bits == 4)
        wq_kernel<4, false><<<blocks, 32 * kWarpsPerBlock>>>(xin, T, K, N, qp, rb, s, z, qz.group_size, groups, part_ends, parts, bias, out);
    else if (qz.round_f16)
        wq_kernel<8, true><<<blocks, 32 * kWarpsPerBlock>>>(xin, T, K, N, qp, rb, s, z, qz.group_size, groups, part_ends, parts, bias, out);
    else
        wq_kernel<8, false><<<blocks, 32 * kWarpsPerBlock>>>(xin, T, K, N, qp, rb, s, z, qz.group_size, groups, part_ends, parts, bias, out);
    return launch_status("linear (integer weight-only)");
}

}  // namespace kite::ops::cuda
