// ops::rms_norm, ops::add_rms_norm, ops::layer_norm, ops::add_layer_norm: validation and dispatch.
#include "ops/cpu/kernels.h"
#include "ops/cuda/kernels.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace kite::ops {

namespace {

// x [.., n], w [n], bias [n] or null, out as many elements as x, residual (when given) too.
Status check_norm(const char* op, const Tensor* residual, const Tensor& x, const Tensor& w, const Tensor* bias,
                  const Tensor& out, Device* dev) {
    KITE_RETURN_IF_ERROR(check_devices(op, {&x, &w, bias, &out, residual}, dev));
    KITE_RETURN_IF_ERROR(require_f32(op, "x", x));
    KITE_RETURN_IF_ERROR(require_f32(op, "weight", w));
    KITE_RETURN_IF_ERROR(require_f32(op, "out", out));
    if (x.ndim() < 1 || w.numel() == 0 || w.numel() != x.dim(-1) || out.numel() != x.numel())
        return invalid_argument(std::string(op) + ": x " + x.shape_string() + ", weight " + w.shape_string() + ", out " +
                                out.shape_string() + " do not agree");
    if (bias != nullptr) {
        KITE_RETURN_IF_ERROR(require_f32(op, "bias", *bias));
        if (bias->numel() != w.numel())
            return invalid_argument(std::string(op) + ": bias " + bias->shape_string() + " must be [" +
                                    std::to_string(w.numel()) + "] like the weight");
    }
    if (residual != nullptr) {
        KITE_RETURN_IF_ERROR(require_f32(op, "residual", *residual));
        if (residual->numel() != x.numel())
            return invalid_argument(std::string(op) + ": residual " + residual->shape_string() + " and x " +
                                    x.shape_string() + " differ in size");
    }
    return Status::ok();
}

const float* data_or_null(const Tensor* t) { return t != nullptr ? t->data<float>() : nullptr; }

}  // namespace

Status rms_norm(const Tensor& x, const Tensor& w, float eps, Tensor& out, float weight_offset) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_norm("rms_norm", nullptr, x, w, nullptr, out, &dev));
    const int64_t n = w.numel();
    return KITE_DISPATCH(dev, rms_norm, x.data<float>(), w.data<float>(), x.numel() / n, n, eps, weight_offset,
                         out.data<float>());
}

Status add_rms_norm(Tensor& residual, const Tensor& x, const Tensor& w, float eps, Tensor& out, float weight_offset) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_norm("add_rms_norm", &residual, x, w, nullptr, out, &dev));
    const int64_t n = w.numel();
    return KITE_DISPATCH(dev, add_rms_norm, residual.data<float>(), x.data<float>(), w.data<float>(), x.numel() / n, n,
                         eps, weight_offset, out.data<float>());
}

Status layer_norm(const Tensor& x, const Tensor& w, const Tensor* bias, float eps, Tensor& out) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_norm("layer_norm", nullptr, x, w, bias, out, &dev));
    const int64_t n = w.numel();
    return KITE_DISPATCH(dev, layer_norm, x.data<float>(), w.data<float>(), data_or_null(bias), x.numel() / n, n, eps,
                         out.data<float>());
}

Status add_layer_norm(Tensor& residual, const Tensor& x, const Tensor& w, const Tensor* bias, float eps, Tensor& out) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_norm("add_layer_norm", &residual, x, w, bias, out, &dev));
    const int64_t n = w.numel();
    return KITE_DISPATCH(dev, add_layer_norm, residual.data<float>(), x.data<float>(), w.data<float>(),
                         data_or_null(bias), x.numel() / n, n, eps, out.data<float>());
}

}  // namespace kite::ops
