// The one place ops decide where a kernel runs: tensors on Device::kCuda go to ops/cuda (a stub
// that reports "built without CUDA" unless KITE_CUDA is on), the rest to ops/cpu.
#pragma once

#include <initializer_list>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace kite::ops {

inline Status require_cpu(const char* op, const Tensor& t) {
    if (t.device() != Device::kCpu) return unimplemented(std::string(op) + ": no CUDA kernel yet (TODO: CUDA backend)");
    return Status::ok();
}

// All tensors of one call on one device (undefined ones, e.g. an absent bias, are skipped).
inline Status require_one_device(const char* op, std::initializer_list<const Tensor*> ts) {
    const Device d = (*ts.begin())->device();
    for (const Tensor* t : ts) {
        if (t != nullptr && t->defined() && t->device() != d)
            return invalid_argument(std::string(op) + ": tensors on different devices (all must be on the CPU or all on CUDA)");
    }
    return Status::ok();
}

inline bool on_cuda(const Tensor& t) { return t.device() == Device::kCuda; }

inline Status require_f32(const char* op, const char* what, const Tensor& t) {
    if (t.dtype() != DType::kF32)
        return invalid_argument(std::string(op) + ": " + what + " must be f32, got " + dtype_name(t.dtype()));
    return Status::ok();
}

inline Status require_shape(const char* op, const char* what, const Tensor& t, int ndim) {
    if (t.ndim() != ndim)
        return invalid_argument(std::string(op) + ": " + what + " must have " + std::to_string(ndim) + " dims, got " +
                                t.shape_string());
    return Status::ok();
}

}  // namespace kite::ops
