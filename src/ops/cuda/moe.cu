// Fused MoE on the GPU. The host turns the routing into a permutation (rows sorted by expert, then
// token) and a tile schedule (expert, first row, last row) of up to kTileM rows each; then
//   1. gather:   xp[m] = x[token(m)]
//   2. grouped GEMM over every tile of every expert at once: gu[m] = xp[m] W_gate_up[e(m)]^T
//   3. gate:     act[m] = act(gu[m, :I]) * gu[m, I:]  (silu: SwiGLU)
//   4. grouped GEMM: yp[m] = act[m] W_down[e(m)]^T
//   5. un-permute: out[t] = sum_j w[t, j] yp[row(t, j)], j in ascending expert id
// Each output element of the GEMMs is one thread's sequential sum over k in tile order, whatever
// rows share its tile, so a token's result does not depend on the batch (as on the CPU).
// First cut: f32 CUDA-core tiles and host-built schedules; tensor-core tiles are the next step.
#include <cuda_bf16.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "ops/cuda/common.cuh"
#include "ops/cuda/kernels.h"
#include "ops/cuda/moe_kernels.h"

namespace kite::ops::cuda {

namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kThreads = 256;  // 16x16 threads, 4x4 outputs each

// Grow-only device buffers of this file (the shared scratch slots belong to the core ops).
struct Buffer {
    void* ptr = nullptr;
    size_t bytes = 0;
};
Buffer g_buf[8];
std::mutex g_buf_mu;

Status buffer(int i, size_t bytes, void** out) {
    std::lock_guard<std::mutex> lock(g_buf_mu);
    Buffer& b = g_buf[i];
    if (b.bytes < bytes) {
        if (b.ptr) KITE_CUDA_TRY(cudaFree(b.ptr));
        b.ptr = nullptr;
        b.bytes = 0;
        const size_t want = std::max<size_t>(4096, bytes + bytes / 2);
        KITE_CUDA_TRY(cudaMalloc(&b.ptr, want));
        b.bytes = want;
    }
    *out = b.ptr;
    return Status::ok();
}

template <typename T>
Status upload(int i, const std::vector<T>& v, T** dev) {
    void* p = nullptr;
    KITE_RETURN_IF_ERROR(buffer(i, std::max<size_t>(1, v.size()) * sizeof(T), &p));
    if (!v.empty()) KITE_CUDA_TRY(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    *dev = static_cast<T*>(p);
    return Status::ok();
}

__device__ inline float to_f32(float v) { return v; }
__device__ inline float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

__global__ void gather_rows(const float* x, const int32_t* token, int64_t M, int64_t H, float* xp) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < M * H; i += int64_t(gridDim.x) * blockDim.x)
        xp[i] = x[int64_t(token[i / H]) * H + i % H];
}

// C[m, n] = sum_k A[m, k] * W_e[n, k] for the rows [m0, m1) of tile blockIdx.x (expert e), columns
// [blockIdx.y * kTileN, +kTileN). W: [experts, N, K] row-major.
template <typename W>
__global__ void grouped_gemm(const float* A, const W* weights, const int4* tiles, int64_t N, int64_t K, float* C) {
    __shared__ float As[kTileK][kTileM + 1];
    __shared__ float Ws[kTileK][kTileN + 1];
    const int4 tile = tiles[blockIdx.x];  // x: expert, y: first row, z: end row
    const int64_t n0 = int64_t(blockIdx.y) * kTileN;
    const W* w = weights + int64_t(tile.x) * N * K;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
        for (int i = threadIdx.x; i < kTileM * kTileK; i += kThreads) {
            const int r = i / kTileK, c = i % kTileK;
            const int64_t m = tile.y + r, k = k0 + c;
            As[c][r] = (m < tile.z && k < K) ? A[m * K + k] : 0.0f;
        }
        for (int i = threadIdx.x; i < kTileN * kTileK; i += kThreads) {
            const int r = i / kTileK, c = i % kTileK;
            const int64_t n = n0 + r, k = k0 + c;
            Ws[c][r] = (n < N && k < K) ? to_f32(w[n * K + k]) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int c = 0; c < kTileK; ++c) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = As[c][ty * 4 + i];
#pragma unroll
            for (int j = 0; j < 4; ++j) b[j] = Ws[c][tx * 4 + j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; ++i) {
        const int64_t m = tile.y + ty * 4 + i;
        if (m >= tile.z) continue;
        for (int j = 0; j < 4; ++j) {
            const int64_t n = n0 + tx * 4 + j;
            if (n < N) C[m * N + n] = acc[i][j];
        }
    }
}

// out[t, h] = sum_j weight[t, j] * yp[row[t, j], h] over the token's choices held here (row >= 0).
__global__ void unpermute(const float* yp, const int32_t* row, const float* weight, int64_t T, int k, int64_t H,
                          float* out) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < T * H; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t t = i / H, h = i % H;
        float acc = 0.0f;
        for (int j = 0; j < k; ++j) {
            const int32_t r = row[t * k + j];
            if (r >= 0) acc += yp[int64_t(r) * H + h] * weight[t * k + j];
        }
        out[i] = acc;
    }
}

__global__ void add_gated(float* out, const float* y, const float* gate, int64_t T, int64_t H) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < T * H; i += int64_t(gridDim.x) * blockDim.x) {
        const float g = gate ? 1.0f / (1.0f + expf(-gate[i / H])) : 1.0f;
        out[i] += g * y[i];
    }
}

template <typename W>
Status run_gemm(const float* A, const Tensor& w, const int4* tiles, int num_tiles, int64_t N, int64_t K, float* C,
                const char* what) {
    const dim3 grid(num_tiles, unsigned((N + kTileN - 1) / kTileN));
    grouped_gemm<W><<<grid, kThreads>>>(A, static_cast<const W*>(w.raw()), tiles, N, K, C);
    return launch_status(what);
}

Status gemm(const float* A, const Tensor& w, const int4* tiles, int num_tiles, int64_t N, int64_t K, float* C,
            const char* what) {
    if (w.dtype() == DType::kF32) return run_gemm<float>(A, w, tiles, num_tiles, N, K, C, what);
    if (w.dtype() == DType::kBF16) return run_gemm<__nv_bfloat16>(A, w, tiles, num_tiles, N, K, C, what);
    return unimplemented(std::string("moe_experts: CUDA expert weights must be f32 or bf16, got ") +
                         dtype_name(w.dtype()));
}

}  // namespace

Status moe_experts(const float* x, int64_t T, const Routing& r, const ExpertWeights& w, float* out) {
    const int64_t H = w.hidden(), I = w.intermediate(), E = w.num_local();
    const int k = r.top_k;
    if (T == 0) return Status::ok();
    // Permutation: rows grouped by local expert, tokens ascending within an expert.
    std::vector<int64_t> count(E + 1, 0);
    for (int64_t s = 0; s < T * k; ++s) {
        const int64_t e = r.expert[s] - w.first_expert;
        if (e >= 0 && e < E) ++count[e + 1];
    }
    for (int64_t e = 0; e < E; ++e) count[e + 1] += count[e];
    const int64_t M = count[E];
    std::vector<int32_t> token(M), row(T * k, -1);
    std::vector<int64_t> fill(count.begin(), count.end() - 1);
    for (int64_t s = 0; s < T * k; ++s) {
        const int64_t e = r.expert[s] - w.first_expert;
        if (e < 0 || e >= E) continue;
        const int64_t m = fill[e]++;
        token[m] = static_cast<int32_t>(s / k);
        row[s] = static_cast<int32_t>(m);
    }
    std::vector<int4> tiles;
    for (int64_t e = 0; e < E; ++e)
        for (int64_t m = count[e]; m < count[e + 1]; m += kTileM)
            tiles.push_back(make_int4(int(e), int(m), int(std::min(count[e + 1], m + kTileM)), 0));

    int32_t *d_token = nullptr, *d_row = nullptr;
    float* d_weight = nullptr;
    int4* d_tiles = nullptr;
    KITE_RETURN_IF_ERROR(upload(0, token, &d_token));
    KITE_RETURN_IF_ERROR(upload(1, row, &d_row));
    KITE_RETURN_IF_ERROR(upload(2, r.weight, &d_weight));
    KITE_RETURN_IF_ERROR(upload(3, tiles, &d_tiles));
    void *xp = nullptr, *gu = nullptr, *act = nullptr, *yp = nullptr;
    const size_t rows = size_t(std::max<int64_t>(M, 1));
    KITE_RETURN_IF_ERROR(buffer(4, rows * H * sizeof(float), &xp));
    KITE_RETURN_IF_ERROR(buffer(5, rows * 2 * I * sizeof(float), &gu));
    KITE_RETURN_IF_ERROR(buffer(6, rows * I * sizeof(float), &act));
    KITE_RETURN_IF_ERROR(buffer(7, rows * H * sizeof(float), &yp));
    if (M > 0) {
        gather_rows<<<grid_for(M * H, 256), 256>>>(x, d_token, M, H, static_cast<float*>(xp));
        KITE_RETURN_IF_ERROR(launch_status("moe_experts (gather)"));
        const int nt = static_cast<int>(tiles.size());
        KITE_RETURN_IF_ERROR(gemm(static_cast<float*>(xp), w.gate_up, d_tiles, nt, 2 * I, H, static_cast<float*>(gu),
                                  "moe_experts (gate_up)"));
        KITE_RETURN_IF_ERROR(act_mul(static_cast<float*>(gu), M, I, w.act, static_cast<float*>(act)));
        KITE_RETURN_IF_ERROR(gemm(static_cast<float*>(act), w.down, d_tiles, nt, H, I, static_cast<float*>(yp),
                                  "moe_experts (down)"));
    }
    unpermute<<<grid_for(T * H, 256), 256>>>(static_cast<float*>(yp), d_row, d_weight, T, k, H, out);
    return launch_status("moe_experts (unpermute)");
}

Status add_shared_expert(float* out, const float* y, const float* gate_logits, int64_t T, int64_t H) {
    if (T * H == 0) return Status::ok();
    add_gated<<<grid_for(T * H, 256), 256>>>(out, y, gate_logits, T, H);
    return launch_status("add_shared_expert");
}

}  // namespace kite::ops::cuda
