// Device memory behind core/device.h. With KITE_CUDA_ENABLED (CMake -DKITE_CUDA=ON) this calls the
// CUDA runtime; without it, host copies still work and everything that needs a GPU says so.
#include "core/device.h"

#include <cstring>

#if defined(KITE_CUDA_ENABLED)
#include <cuda_runtime.h>
#endif

namespace kite {

#if defined(KITE_CUDA_ENABLED)

namespace {
Status cuda_error(const char* what, cudaError_t e) {
    return internal_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}
}  // namespace

bool cuda_available(std::string* why) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        if (why) *why = std::string("no CUDA device: ") + (e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return false;
    }
    return true;
}

Result<std::shared_ptr<void>> cuda_alloc_zeroed(size_t bytes) {
    void* p = nullptr;
    const size_t n = bytes == 0 ? 256 : bytes;
    cudaError_t e = cudaMalloc(&p, n);
    if (e != cudaSuccess)
        return resource_exhausted("CUDA: cannot allocate " + std::to_string(bytes) + " bytes: " + cudaGetErrorString(e));
    e = cudaMemset(p, 0, n);
    if (e != cudaSuccess) {
        cudaFree(p);
        return cuda_error("memset", e);
    }
    return std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });
}

Status copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
    if (bytes == 0) return Status::ok();
    if (dst_device == Device::kCpu && src_device == Device::kCpu) {
        std::memcpy(dst, src, bytes);
        return Status::ok();
    }
    const cudaMemcpyKind kind = dst_device == Device::kCpu   ? cudaMemcpyDeviceToHost
                                : src_device == Device::kCpu ? cudaMemcpyHostToDevice
                                                             : cudaMemcpyDeviceToDevice;
    // cudaMemcpy on the legacy default stream waits for the kernels queued before it.
    const cudaError_t e = cudaMemcpy(dst, src, bytes, kind);
    return e == cudaSuccess ? Status::ok() : cuda_error("memcpy", e);
}

Status cuda_synchronize() {
    const cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? Status::ok() : cuda_error("synchronize", e);
}

#else  // built without CUDA

bool cuda_available(std::string* why) {
    if (why) *why = "kite was built without CUDA (configure with -DKITE_CUDA=ON)";
    return false;
}

Result<std::shared_ptr<void>> cuda_alloc_zeroed(size_t) {
    return unimplemented("CUDA memory: kite was built without CUDA (configure with -DKITE_CUDA=ON)");
}

Status copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
    if (dst_device != Device::kCpu || src_device != Device::kCpu)
        return unimplemented("CUDA copy: kite was built without CUDA (configure with -DKITE_CUDA=ON)");
    if (bytes) std::memcpy(dst, src, bytes);
    return Status::ok();
}

Status cuda_synchronize() { return Status::ok(); }

#endif

}  // namespace kite
