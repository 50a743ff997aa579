// ops::linear on the GPU through cuBLAS (f32 SGEMM; bf16 weights through GemmEx with f32
// accumulation), plus the scratch buffers every CUDA op shares. cuBLASLt epilogues (bias fused
// into the GEMM) are the next step (docs/cuda.md).
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "ops/cuda/common.cuh"
#include "ops/cuda/kernels.h"

namespace kite::ops::cuda {

namespace {

struct Scratch {
    void* ptr = nullptr;
    size_t bytes = 0;
    std::vector<unsigned char> last;  // host copy of the last upload (valid while `uploaded`)
    bool uploaded = false;
};
Scratch g_scratch[kNumScratch];
std::mutex g_scratch_mu;  // the engine runs ops from one thread; the lock only guards misuse

const char* cublas_name(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
        case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
        case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
        default: return "error";
    }
}

// One handle per process, created on first use (creating one costs milliseconds).
Result<cublasHandle_t> handle() {
    static cublasHandle_t h = nullptr;
    static cublasStatus_t st = cublasCreate(&h);
    if (st != CUBLAS_STATUS_SUCCESS) return internal_error(std::string("cuBLAS: cannot create a handle: ") + cublas_name(st));
    return h;
}

__global__ void add_bias_kernel(float* out, const float* bias, int64_t T, int64_t N) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < T * N; i += int64_t(gridDim.x) * blockDim.x)
        out[i] += bias[i % N];
}

__global__ void to_bf16_kernel(const float* x, __nv_bfloat16* y, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = __float2bfloat16_rn(x[i]);
}

}  // namespace

Status scratch(ScratchSlot slot, size_t bytes, void** out) {
    std::lock_guard<std::mutex> lock(g_scratch_mu);
    Scratch& s = g_scratch[slot];
    if (s.bytes < bytes) {
        if (s.ptr) KITE_CUDA_TRY(cudaFree(s.ptr));  // synchronizes: no queued kernel still reads it
        s.ptr = nullptr;
        s.bytes = 0;
        s.uploaded = false;
        const size_t want = bytes < 4096 ? 4096 : bytes + bytes / 2;
        KITE_CUDA_TRY(cudaMalloc(&s.ptr, want));
        s.bytes = want;
    }
    *out = s.ptr;
    return Status::ok();
}

Status upload(ScratchSlot slot, const void* host, size_t bytes, void** dev) {
    KITE_RETURN_IF_ERROR(scratch(slot, bytes, dev));
    Scratch& s = g_scratch[slot];
    const auto* h = static_cast<const unsigned char*>(host);
    if (s.uploaded && s.last.size() == bytes && std::equal(s.last.begin(), s.last.end(), h)) return Status::ok();
    s.uploaded = false;
    if (bytes) KITE_CUDA_TRY(cudaMemcpy(*dev, host, bytes, cudaMemcpyHostToDevice));
    s.last.assign(h, h + bytes);
    s.uploaded = true;
    return Status::ok();
}

Status linear(const float* x, int64_t T, int64_t K, const Tensor& w, const float* bias, float* out) {
    const int64_t N = w.dim(0);
    if (T == 0 || N == 0) return Status::ok();
    KITE_ASSIGN_OR_RETURN(cublasHandle_t h, handle());
    const float one = 1.0f, zero = 0.0f;
    // Row-major out[T, N] = x[T, K] w[N, K]^T is column-major out^T[N, T] = w^T... i.e. op(A) = w^T
    // read as the column-major [K, N] matrix w with lda = K, and B = x as column-major [K, T].
    cublasStatus_t st;
    if (w.dtype() == DType::kF32) {
        st = cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(T), int(K), &one, w.data<float>(), int(K), x, int(K),
                         &zero, out, int(N));
    } else if (w.dtype() == DType::kBF16) {
        void* xb = nullptr;
        KITE_RETURN_IF_ERROR(scratch(kScratchCast, size_t(T * K) * sizeof(__nv_bfloat16), &xb));
        to_bf16_kernel<<<grid_for(T * K, 256), 256>>>(x, static_cast<__nv_bfloat16*>(xb), T * K);
        KITE_RETURN_IF_ERROR(launch_status("linear (cast to bf16)"));
        st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(T), int(K), &one, w.raw(), CUDA_R_16BF, int(K), xb,
                          CUDA_R_16BF, int(K), &zero, out, CUDA_R_32F, int(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    } else {
        return unimplemented(std::string("linear: CUDA weights must be f32 or bf16, got ") + dtype_name(w.dtype()));
    }
    if (st != CUBLAS_STATUS_SUCCESS) return internal_error(std::string("linear: cuBLAS GEMM failed: ") + cublas_name(st));
    if (bias != nullptr) {
        add_bias_kernel<<<grid_for(T * N, 256), 256>>>(out, bias, T, N);
        KITE_RETURN_IF_ERROR(launch_status("linear (bias)"));
    }
    return Status::ok();
}

}  // namespace kite::ops::cuda
