// A dense, row-major, contiguous n-d array on one device. Storage is shared and reference counted,
// so a Tensor may view memory it does not own (a memory-mapped checkpoint, a slice of the KV pool).
// Layout, strides and broadcasting beyond "contiguous row-major" are deliberately out of scope:
// ops take plain shapes and raw pointers, which is what a CUDA kernel wants as well.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace kite {

enum class Device : uint8_t { kCpu, kCuda };

class Tensor {
public:
    Tensor() = default;
    // Fresh zero-filled allocation: 64-byte aligned host memory, or GPU memory for Device::kCuda
    // (aborts when the GPU is out of memory or kite was built without CUDA, like host OOM).
    static Tensor zeros(DType dtype, std::vector<int64_t> shape, Device device = Device::kCpu);
    // Like zeros but uninitialized (no fill pass; on the GPU, no memset launch): only for outputs
    // that an op overwrites completely.
    static Tensor empty(DType dtype, std::vector<int64_t> shape, Device device = Device::kCpu);
    // A view of memory owned by `owner` (kept alive as long as the tensor lives).
    static Tensor view(void* data, DType dtype, std::vector<int64_t> shape, std::shared_ptr<void> owner,
                       Device device = Device::kCpu);

    bool defined() const { return !shape_.empty() || data_ != nullptr; }
    DType dtype() const { return dtype_; }
    Device device() const { return device_; }
    const std::vector<int64_t>& shape() const { return shape_; }
    int ndim() const { return static_cast<int>(shape_.size()); }
    int64_t dim(int i) const { return shape_[i < 0 ? i + ndim() : i]; }
    int64_t numel() const;
    int64_t nbytes() const { return dtype_bytes_for(dtype_, numel()); }
    std::string shape_string() const;  // "[4, 64]"

    void* raw() { return data_; }
    const void* raw() const { return data_; }
    template <typename T> T* data() { return static_cast<T*>(data_); }
    template <typename T> const T* data() const { return static_cast<const T*>(data_); }

    // A contiguous copy on `device` (CPU<->GPU); an error if the copy or allocation fails.
    Result<Tensor> to(Device device) const;

    // Same storage, new shape with the same number of elements.
    Tensor reshape(std::vector<int64_t> shape) const;
    // Rows [begin, end) along dim 0, sharing storage.
    Tensor slice_rows(int64_t begin, int64_t end) const;

private:
    std::shared_ptr<void> owner_;
    void* data_ = nullptr;
    DType dtype_ = DType::kF32;
    Device device_ = Device::kCpu;
    std::vector<int64_t> shape_;
};

}  // namespace kite
