// ops::rms_norm, ops::add_rms_norm: validation and dispatch.
#include "ops/cpu/kernels.h"
#include "ops/cuda/kernels.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace kite::ops {

namespace {
Status check_norm(const char* op, const Tensor& x, const Tensor& w, const Tensor& out) {
    KITE_RETURN_IF_ERROR(require_one_device(op, {&x, &w, &out}));
    KITE_RETURN_IF_ERROR(require_f32(op, "x", x));
    KITE_RETURN_IF_ERROR(require_f32(op, "weight", w));
    KITE_RETURN_IF_ERROR(require_f32(op, "out", out));
    if (x.ndim() < 1 || w.numel() != x.dim(-1) || out.numel() != x.numel())
        return invalid_argument(std::string(op) + ": x " + x.shape_string() + ", weight " + w.shape_string() + ", out " +
                                out.shape_string() + " do not agree");
    return Status::ok();
}
}  // namespace

Status rms_norm(const Tensor& x, const Tensor& w, float eps, Tensor& out) {
    KITE_RETURN_IF_ERROR(check_norm("rms_norm", x, w, out));
    const int64_t n = w.numel();
    if (on_cuda(x)) return cuda::rms_norm(x.data<float>(), w.data<float>(), x.numel() / n, n, eps, out.data<float>());
    cpu::rms_norm(x.data<float>(), w.data<float>(), x.numel() / n, n, eps, out.data<float>());
    return Status::ok();
}

Status add_rms_norm(Tensor& residual, const Tensor& x, const Tensor& w, float eps, Tensor& out) {
    KITE_RETURN_IF_ERROR(check_norm("add_rms_norm", x, w, out));
    if (residual.numel() != x.numel()) return invalid_argument("add_rms_norm: residual and x differ in size");
    KITE_RETURN_IF_ERROR(require_one_device("add_rms_norm", {&x, &residual}));
    const int64_t n = w.numel();
    if (on_cuda(x))
        return cuda::add_rms_norm(residual.data<float>(), x.data<float>(), w.data<float>(), x.numel() / n, n, eps,
                                  out.data<float>());
    cpu::add_rms_norm(residual.data<float>(), x.data<float>(), w.data<float>(), x.numel() / n, n, eps,
                      out.data<float>());
    return Status::ok();
}

}  // namespace kite::ops
