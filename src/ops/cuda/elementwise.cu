// Per-token kernels on the GPU: embedding gather, rotary embedding, K/V slot writes. Grid-stride
// loops with no reductions, so they match the CPU reference exactly.
#include <cuda_bf16.h>

#include <algorithm>

#include "ops/cuda/common.cuh"
#include "ops/cuda/kernels.h"

namespace kite::ops::cuda {

namespace {

constexpr int kThreads = 256;

#define KITE_GRID_STRIDE(i, n) \
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <typename T>
__device__ inline float load_f32(const T* p, int64_t i);
template <>
__device__ inline float load_f32<float>(const float* p, int64_t i) { return p[i]; }
template <>
__device__ inline float load_f32<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }

template <typename T>
__global__ void embedding_kernel(const T* table, const int32_t* ids, int64_t T_, int64_t H, float* out) {
    KITE_GRID_STRIDE(i, T_ * H) {
        const int64_t t = i / H, c = i % H;
        out[i] = load_f32(table, int64_t(ids[t]) * H + c);
    }
}

// Pair j of a head is (v[j], v[j + half]) (halves) or (v[2j], v[2j + 1]) (interleaved).
__global__ void rope_kernel(float* x, int64_t T, int64_t heads, int64_t head_dim, const float* cos, const float* sin,
                            int half, bool interleaved) {
    KITE_GRID_STRIDE(i, T * heads * half) {
        const int64_t t = i / (heads * half), h = (i / half) % heads, j = i % half;
        float* v = x + (t * heads + h) * head_dim + (interleaved ? 2 * j : j);
        const int64_t step = interleaved ? 1 : half;
        const float c = cos[t * half + j], s = sin[t * half + j];
        const float a = v[0], b = v[step];
        v[0] = a * c - b * s;
        v[step] = b * c + a * s;
    }
}

// Element i of the wider of the two rows: copies key element i and value element i where each exists.
__global__ void write_kv_kernel(const float* k, const float* v, int64_t T, int64_t k_row, int64_t v_row,
                                const int64_t* slots, float* k_pool, float* v_pool) {
    const int64_t row = k_row > v_row ? k_row : v_row;
    KITE_GRID_STRIDE(i, T * row) {
        const int64_t t = i / row, c = i % row;
        if (c < k_row) k_pool[slots[t] * k_row + c] = k[t * k_row + c];
        if (c < v_row) v_pool[slots[t] * v_row + c] = v[t * v_row + c];
    }
}

}  // namespace

Status embedding(const Tensor& table, std::span<const int32_t> ids, float* out) {
    const int64_t T = static_cast<int64_t>(ids.size()), H = table.dim(1);
    if (T == 0) return Status::ok();
    void* dev_ids = nullptr;
    KITE_RETURN_IF_ERROR(upload(kScratchIds, ids.data(), ids.size_bytes(), &dev_ids));
    const auto* d_ids = static_cast<const int32_t*>(dev_ids);
    if (table.dtype() == DType::kF32) {
        embedding_kernel<<<grid_for(T * H, kThreads), kThreads>>>(table.data<float>(), d_ids, T, H, out);
    } else if (table.dtype() == DType::kBF16) {
        embedding_kernel<<<grid_for(T * H, kThreads), kThreads>>>(
            static_cast<const __nv_bfloat16*>(table.raw()), d_ids, T, H, out);
    } else {
        return unimplemented(std::string("embedding: CUDA tables must be f32 or bf16, got ") + dtype_name(table.dtype()));
    }
    return launch_status("embedding");
}

Status rope(float* x, int64_t T, int64_t heads, int64_t head_dim, const float* cos, const float* sin, int rot_dim,
            RopeLayout layout) {
    const int half = rot_dim / 2;
    if (T * heads * half == 0) return Status::ok();
    rope_kernel<<<grid_for(T * heads * half, kThreads), kThreads>>>(x, T, heads, head_dim, cos, sin, half,
                                                                    layout == RopeLayout::kInterleaved);
    return launch_status("rope");
}

Status write_kv(const float* k, const float* v, int64_t T, int64_t k_row, int64_t v_row, std::span<const int64_t> slots,
                float* k_pool, float* v_pool) {
    const int64_t row = std::max(k_row, v_row);
    if (T * row == 0) return Status::ok();
    void* dev_slots = nullptr;
    KITE_RETURN_IF_ERROR(upload(kScratchSlots, slots.data(), slots.size_bytes(), &dev_slots));
    write_kv_kernel<<<grid_for(T * row, kThreads), kThreads>>>(k, v, T, k_row, v_row,
                                                               static_cast<const int64_t*>(dev_slots), k_pool, v_pool);
    return launch_status("write_kv");
}

}  // namespace kite::ops::cuda
