// Shared by the .cu files of ops/cuda: error conversion, block reductions, and the grow-only
// scratch buffers that host metadata (ids, slots, block tables) is uploaded into.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "core/status.h"

namespace kite::ops::cuda {

#define KITE_CUDA_TRY(expr)                                                                           \
    do {                                                                                              \
        const cudaError_t kite_e_ = (expr);                                                           \
        if (kite_e_ != cudaSuccess)                                                                   \
            return ::kite::internal_error(std::string("CUDA: ") + #expr + ": " + cudaGetErrorString(kite_e_)); \
    } while (0)

// After a launch: a bad configuration shows up here; faults inside the kernel show up at the next
// synchronizing call (a copy back), which reports them as well.
inline Status launch_status(const char* op) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return internal_error(std::string(op) + ": CUDA launch failed: " + cudaGetErrorString(e));
    return Status::ok();
}

// Scratch slots, one per kind of use, so uploads of different kinds never share memory. They only
// grow; the default stream orders every use after the work queued before it.
enum ScratchSlot {
    kScratchIds = 0, kScratchSlots = 1, kScratchAttention = 2, kScratchCast = 3, kScratchPartial = 4, kNumScratch = 5
};
Status scratch(ScratchSlot slot, size_t bytes, void** out);
// Copies `bytes` of host data into scratch `slot`; *dev gets the device pointer. When the bytes
// equal the slot's last upload (every layer of a step sends the same slot mapping and block
// tables), the copy, a host-device synchronization, is skipped.
Status upload(ScratchSlot slot, const void* host, size_t bytes, void** dev);

__device__ inline float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ inline float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum / max, the result given to every thread. `red` is 32 floats of shared memory;
// blockDim.x must be a multiple of 32.
__device__ inline float block_sum(float v, float* red) {
    v = warp_sum(v);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();  // an earlier reduction's readers are done with red
    if (lane == 0) red[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < nw ? red[lane] : 0.0f;
        v = warp_sum(v);
        if (lane == 0) red[0] = v;
    }
    __syncthreads();
    return red[0];
}
__device__ inline float block_max(float v, float* red) {
    v = warp_max(v);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) red[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < nw ? red[lane] : -INFINITY;
        v = warp_max(v);
        if (lane == 0) red[0] = v;
    }
    __syncthreads();
    return red[0];
}

inline unsigned grid_for(int64_t n, int threads) {
    const int64_t g = (n + threads - 1) / threads;
    return static_cast<unsigned>(g < 65535 * 16 ? (g < 1 ? 1 : g) : 65535 * 16);
}

}  // namespace kite::ops::cuda
