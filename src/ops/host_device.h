// KITE_HOST_DEVICE marks inline math that the CPU kernels and the CUDA kernels (nvcc) both compile,
// so the two backends evaluate the same formula in the same order.
#pragma once

#if defined(__CUDACC__)
#define KITE_HOST_DEVICE __host__ __device__
#else
#define KITE_HOST_DEVICE
#endif
