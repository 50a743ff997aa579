// The one place ops decide where a kernel runs. Every backend namespace (ops::cpu, ops::cuda)
// declares the same kernel names with the same arguments; an op validates its inputs, checks that
// all tensors share one device (check_devices) and hands the call to KITE_DISPATCH, which picks the
// backend. Adding a backend is one namespace of kernels and one case below; adding an op is one
// kernel per backend and one KITE_DISPATCH line. CUDA kernels report "built without CUDA" unless
// KITE_CUDA is on (ops/cuda/stub.cpp).
#pragma once

#include <initializer_list>
#include <string>
#include <type_traits>

#include "core/status.h"
#include "core/tensor.h"

namespace kite::ops {

namespace detail {
// CPU kernels cannot fail once inputs are validated and return void; CUDA kernels return a Status.
template <typename F>
Status as_status(F&& call) {
    if constexpr (std::is_void_v<decltype(call())>) {
        call();
        return Status::ok();
    } else {
        return call();
    }
}
}  // namespace detail

// Calls kernel KERNEL(args...) of the backend for `device`: ops::cpu::KERNEL or ops::cuda::KERNEL.
// The arguments are evaluated once, for the chosen backend only. Evaluates to a Status.
#define KITE_DISPATCH(device, KERNEL, ...)                                                                      \
    ([&]() -> ::kite::Status {                                                                                  \
        switch (device) {                                                                                       \
            case ::kite::Device::kCpu:                                                                          \
                return ::kite::ops::detail::as_status([&] { return ::kite::ops::cpu::KERNEL(__VA_ARGS__); });   \
            case ::kite::Device::kCuda:                                                                         \
                return ::kite::ops::detail::as_status([&] { return ::kite::ops::cuda::KERNEL(__VA_ARGS__); });  \
        }                                                                                                       \
        return ::kite::internal_error("ops: unknown device");                                                   \
    }())

// All tensors of one call on one device (null pointers and undefined tensors, e.g. an absent
// bias, are skipped); `*device` gets that device.
inline Status check_devices(const char* op, std::initializer_list<const Tensor*> ts, Device* device) {
    bool first = true;
    for (const Tensor* t : ts) {
        if (t == nullptr || !t->defined()) continue;
        if (first) {
            *device = t->device();
            first = false;
        } else if (t->device() != *device) {
            return invalid_argument(std::string(op) +
                                    ": tensors on different devices (all must be on the CPU or all on CUDA)");
        }
    }
    if (first) return invalid_argument(std::string(op) + ": no input tensor");
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
