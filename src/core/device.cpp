// Device memory behind core/device.h. With KITE_CUDA_ENABLED (CMake -DKITE_CUDA=ON) this calls the
// CUDA runtime; without it, host copies still work and everything that needs a GPU says so.
#include "core/device.h"

#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

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

namespace {

// A caching allocator: cudaMalloc/cudaFree cost tens of microseconds and cudaFree waits for the
// GPU, so blocks up to kMaxCachedBytes go back to a free list keyed by their rounded size instead.
// Reuse is safe without events because all work runs on the one (legacy default) stream: a kernel
// that used a block is queued before any kernel of its next owner.
constexpr size_t kMaxCachedBytes = size_t(256) << 20;

size_t round_size(size_t bytes) {
    if (bytes > kMaxCachedBytes) return bytes;
    size_t r = 512;
    while (r < bytes) r <<= 1;
    return r;
}

struct BlockCache {
    std::mutex mu;
    std::unordered_map<size_t, std::vector<void*>> free;
};
BlockCache& block_cache() {
    static BlockCache* c = new BlockCache;  // never destroyed: frees may run during static teardown
    return *c;
}

void release(void* p, size_t rounded) {
    if (rounded > kMaxCachedBytes) {
        cudaFree(p);
        return;
    }
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.free[rounded].push_back(p);
}

}  // namespace

Result<std::shared_ptr<void>> cuda_alloc(size_t bytes) {
    const size_t n = round_size(bytes == 0 ? 1 : bytes);
    void* p = nullptr;
    {
        BlockCache& c = block_cache();
        std::lock_guard<std::mutex> lock(c.mu);
        auto it = c.free.find(n);
        if (it != c.free.end() && !it->second.empty()) {
            p = it->second.back();
            it->second.pop_back();
        }
    }
    if (p == nullptr) {
        cudaError_t e = cudaMalloc(&p, n);
        if (e != cudaSuccess) {
            // Out of memory with blocks parked in the cache: give them back and try once more.
            BlockCache& c = block_cache();
            {
                std::lock_guard<std::mutex> lock(c.mu);
                for (auto& [size, list] : c.free)
                    for (void* q : list) cudaFree(q);
                c.free.clear();
            }
            cudaGetLastError();
            e = cudaMalloc(&p, n);
        }
        if (e != cudaSuccess)
            return resource_exhausted("CUDA: cannot allocate " + std::to_string(bytes) + " bytes: " + cudaGetErrorString(e));
    }
    return std::shared_ptr<void>(p, [n](void* q) { release(q, n); });
}

Result<std::shared_ptr<void>> cuda_alloc_zeroed(size_t bytes) {
    KITE_ASSIGN_OR_RETURN(std::shared_ptr<void> mem, cuda_alloc(bytes));
    const cudaError_t e = cudaMemsetAsync(mem.get(), 0, bytes, 0);  // ordered on the default stream
    if (e != cudaSuccess) return cuda_error("memset", e);
    return mem;
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

Status copy_rows_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes, size_t rows,
                    Device device) {
    if (rows == 0 || row_bytes == 0) return Status::ok();
    if (device == Device::kCpu) {  // the CPU path never touches the CUDA runtime (there may be no driver)
        for (size_t r = 0; r < rows; ++r)
            std::memcpy(static_cast<char*>(dst) + r * dst_pitch, static_cast<const char*>(src) + r * src_pitch, row_bytes);
        return Status::ok();
    }
    const cudaError_t e = cudaMemcpy2D(dst, dst_pitch, src, src_pitch, row_bytes, rows, cudaMemcpyDeviceToDevice);
    return e == cudaSuccess ? Status::ok() : cuda_error("memcpy2D", e);
}

Result<int64_t> cuda_free_memory_bytes() {
    size_t free_bytes = 0, total_bytes = 0;
    const cudaError_t e = cudaMemGetInfo(&free_bytes, &total_bytes);
    if (e != cudaSuccess) return cuda_error("memGetInfo", e);
    return static_cast<int64_t>(free_bytes);
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

Result<std::shared_ptr<void>> cuda_alloc(size_t) {
    return unimplemented("CUDA memory: kite was built without CUDA (configure with -DKITE_CUDA=ON)");
}

Result<std::shared_ptr<void>> cuda_alloc_zeroed(size_t bytes) { return cuda_alloc(bytes); }

Status copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
    if (dst_device != Device::kCpu || src_device != Device::kCpu)
        return unimplemented("CUDA copy: kite was built without CUDA (configure with -DKITE_CUDA=ON)");
    if (bytes) std::memcpy(dst, src, bytes);
    return Status::ok();
}

Status copy_rows_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes, size_t rows,
                    Device device) {
    if (device != Device::kCpu) return unimplemented("CUDA copy: kite was built without CUDA (configure with -DKITE_CUDA=ON)");
    for (size_t r = 0; r < rows; ++r)
        std::memcpy(static_cast<char*>(dst) + r * dst_pitch, static_cast<const char*>(src) + r * src_pitch, row_bytes);
    return Status::ok();
}

Result<int64_t> cuda_free_memory_bytes() {
    return unimplemented("CUDA memory: kite was built without CUDA (configure with -DKITE_CUDA=ON)");
}

Status cuda_synchronize() { return Status::ok(); }

#endif

}  // namespace kite
