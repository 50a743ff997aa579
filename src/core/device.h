// Device memory for the CUDA backend: allocation, copies between host and GPU, and whether a GPU
// is usable at all. Built without KITE_CUDA, every CUDA call reports "built without CUDA"; the
// CPU path never goes through here. Kernels and cuBLAS live in ops/cuda, not here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace kite {

// True when kite was built with KITE_CUDA and a CUDA device answers; otherwise false and *why
// (if given) says which of the two is missing.
bool cuda_available(std::string* why = nullptr);

// `bytes` of GPU memory, freed when the last owner goes away: uninitialized, or zero-filled.
Result<std::shared_ptr<void>> cuda_alloc(size_t bytes);
Result<std::shared_ptr<void>> cuda_alloc_zeroed(size_t bytes);

// Copies `bytes` between any two devices (host<->GPU, GPU<->GPU, host<->host). Synchronous with
// respect to the host: when it returns, the destination holds the data.
Status copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// `rows` rows of `row_bytes` each, from src (rows `src_pitch` bytes apart) to dst (`dst_pitch`
// apart), both on `device`: a column block of a row-major matrix.
Status copy_rows_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes, size_t rows,
                    Device device);

// Free memory of the current GPU in bytes (cudaMemGetInfo; blocks the caching allocator holds
// count as used).
Result<int64_t> cuda_free_memory_bytes();

// Waits for all GPU work of this process; reports a kernel's asynchronous error, if any.
Status cuda_synchronize();

}  // namespace kite
