#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/device.h"
#include "core/status.h"

namespace kite {

int64_t Tensor::numel() const {
    int64_t n = 1;
    for (int64_t d : shape_) n *= d;
    return n;
}

std::string Tensor::shape_string() const {
    std::string s = "[";
    for (size_t i = 0; i < shape_.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape_[i]);
    }
    return s + "]";
}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape, Device device) {
    if (device == Device::kCuda) {
        Tensor t;
        t.dtype_ = dtype;
        t.shape_ = std::move(shape);
        t.device_ = device;
        Result<std::shared_ptr<void>> mem = cuda_alloc_zeroed(static_cast<size_t>(t.nbytes()));
        KITE_CHECK_MSG(mem.ok(), mem.status().message().c_str());
        t.owner_ = std::move(*mem);
        t.data_ = t.owner_.get();
        return t;
    }
    Tensor t = empty(dtype, std::move(shape), device);
    const size_t bytes = static_cast<size_t>(t.nbytes());
    std::memset(t.data_, 0, bytes == 0 ? 64 : (bytes + 63) / 64 * 64);
    return t;
}

Tensor Tensor::empty(DType dtype, std::vector<int64_t> shape, Device device) {
    Tensor t;
    t.dtype_ = dtype;
    t.shape_ = std::move(shape);
    t.device_ = device;
    if (device == Device::kCuda) {
        Result<std::shared_ptr<void>> mem = cuda_alloc(static_cast<size_t>(t.nbytes()));
        KITE_CHECK_MSG(mem.ok(), mem.status().message().c_str());
        t.owner_ = std::move(*mem);
        t.data_ = t.owner_.get();
        return t;
    }
    const size_t bytes = static_cast<size_t>(t.nbytes());
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    KITE_CHECK_MSG(p != nullptr, "out of host memory");
    t.owner_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    t.data_ = p;
    return t;
}

Tensor Tensor::view(void* data, DType dtype, std::vector<int64_t> shape, std::shared_ptr<void> owner, Device device) {
    Tensor t;
    t.owner_ = std::move(owner);
    t.data_ = data;
    t.dtype_ = dtype;
    t.shape_ = std::move(shape);
    t.device_ = device;
    return t;
}

Result<Tensor> Tensor::to(Device device) const {
    Tensor t;
    t.dtype_ = dtype_;
    t.shape_ = shape_;
    t.device_ = device;
    if (device == Device::kCuda) {
        KITE_ASSIGN_OR_RETURN(t.owner_, cuda_alloc_zeroed(static_cast<size_t>(nbytes())));
        t.data_ = t.owner_.get();
    } else {
        t = zeros(dtype_, shape_, Device::kCpu);
    }
    KITE_RETURN_IF_ERROR(copy_bytes(t.data_, device, data_, device_, static_cast<size_t>(nbytes())));
    return t;
}

Tensor Tensor::reshape(std::vector<int64_t> shape) const {
    Tensor t = *this;
    t.shape_ = std::move(shape);
    KITE_CHECK_MSG(t.numel() == numel(), "reshape changes the element count");
    return t;
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
    KITE_CHECK(ndim() >= 1 && begin >= 0 && begin <= end && end <= shape_[0]);
    Tensor t = *this;
    const int64_t row_elems = shape_[0] == 0 ? 0 : numel() / shape_[0];
    t.shape_[0] = end - begin;
    t.data_ = static_cast<char*>(data_) + dtype_bytes_for(dtype_, begin * row_elems);
    return t;
}

}  // namespace kite
