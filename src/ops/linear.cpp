// ops::linear and ops::embedding: validation and dispatch (dense f32 or quantized weights).
#include "ops/cpu/kernels.h"
#include "ops/cpu/wq_kernels.h"
#include "ops/cuda/kernels.h"
#include "ops/cuda/wq_kernels.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/quant.h"

namespace kite::ops {

namespace {

// Integer weight-only weights (ops/wq.h): ops/cpu/wq_matmul.cpp or ops/cuda/wq_matmul.cu.
Status linear_int(const Tensor& x, const Weight& w, const Tensor* bias, Tensor& out) {
    const int64_t T = x.dim(0), K = x.dim(1), N = w.out_features();
    if (w.in_features() != K)
        return invalid_argument("linear: x " + x.shape_string() + " does not match the quantized weight's " +
                                std::to_string(w.in_features()) + " input features");
    if (out.ndim() != 2 || out.dim(0) != T || out.dim(1) != N || out.dtype() != DType::kF32)
        return invalid_argument("linear: out must be f32 [" + std::to_string(T) + ", " + std::to_string(N) + "], got " +
                                out.shape_string());
    if (bias != nullptr && (bias->numel() != N || bias->dtype() != DType::kF32))
        return invalid_argument("linear: bias must be f32 [" + std::to_string(N) + "]");
    if (x.device() == Device::kCuda) {
        for (const Tensor* t : {&w.quant.scales, &w.quant.zeros, &w.quant.perm}) {
            if (t->defined() && t->device() != Device::kCuda)
                return invalid_argument("linear: the quantized weight's scales, zeros and permutation must be on the GPU too");
        }
        return cuda::wq_matmul(x.data<float>(), T, w, bias ? bias->data<float>() : nullptr, out.data<float>());
    }
    cpu::wq_matmul(x.data<float>(), T, w, bias ? bias->data<float>() : nullptr, out.data<float>());
    return Status::ok();
}

}  // namespace

Status linear(const Tensor& x, const Weight& w, const Tensor* bias, Tensor& out) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("linear", {&x, &w.t, bias, &out}, &dev));
    KITE_RETURN_IF_ERROR(require_f32("linear", "x", x));
    KITE_RETURN_IF_ERROR(require_shape("linear", "x", x, 2));
    KITE_RETURN_IF_ERROR(require_shape("linear", "weight", w.t, 2));
    if (w.is_int_quantized()) return linear_int(x, w, bias, out);
    const int64_t T = x.dim(0), K = x.dim(1), N = w.out_features();
    if (w.in_features() != K)
        return invalid_argument("linear: x " + x.shape_string() + " does not match weight " + w.t.shape_string());
    if (out.ndim() != 2 || out.dim(0) != T || out.dim(1) != N || out.dtype() != DType::kF32)
        return invalid_argument("linear: out must be f32 [" + std::to_string(T) + ", " + std::to_string(N) + "], got " +
                                out.shape_string());
    if (bias != nullptr && (bias->numel() != N || bias->dtype() != DType::kF32))
        return invalid_argument("linear: bias must be f32 [" + std::to_string(N) + "]");
    if (dev == Device::kCpu && !dtype_is_quantized(w.t.dtype()))
        KITE_RETURN_IF_ERROR(require_f32("linear", "weight", w.t));
    return KITE_DISPATCH(dev, linear, x.data<float>(), T, K, w.t, bias ? bias->data<float>() : nullptr,
                         out.data<float>());
}

Status embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("embedding", {&table, &out}, &dev));
    KITE_RETURN_IF_ERROR(require_shape("embedding", "table", table, 2));
    const int64_t V = table.dim(0), H = table.dim(1);
    if (out.dtype() != DType::kF32 || out.ndim() != 2 || out.dim(0) != static_cast<int64_t>(ids.size()) || out.dim(1) != H)
        return invalid_argument("embedding: out must be f32 [" + std::to_string(ids.size()) + ", " + std::to_string(H) + "]");
    for (int32_t id : ids) {
        if (id < 0 || id >= V)
            return invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    }
    return KITE_DISPATCH(dev, embedding, table, ids, out.data<float>());
}

}  // namespace kite::ops
