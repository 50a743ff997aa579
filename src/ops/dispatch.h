// The one place ops decide where a kernel runs. Today only the CPU has kernels; a CUDA op will
// add its branch here (ops/cuda/<op>.cu) and nothing at the call sites changes.
#pragma once

#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace kite::ops {

inline Status require_cpu(const char* op, const Tensor& t) {
    if (t.device() != Device::kCpu) return unimplemented(std::string(op) + ": no CUDA kernel yet (TODO: CUDA backend)");
    return Status::ok();
}

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
