// ops::activation and the gated act_mul family: activation names as transformers spells them,
// validation and dispatch.
#include <string>

#include "ops/cpu/kernels.h"
#include "ops/cuda/kernels.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace kite::ops {

namespace {

struct NamedActivation {
    const char* name;
    Activation act;
};

// transformers' ACT2FN names that kite computes. The tanh-approximated GELUs differ only in how
// the same formula is arranged (gelu_fast rounds sqrt(2/pi) to 10 digits), far below f32 noise.
constexpr NamedActivation kActivations[] = {
    {"silu", Activation::kSilu},
    {"swish", Activation::kSilu},
    {"gelu", Activation::kGelu},
    {"gelu_python", Activation::kGelu},
    {"gelu_new", Activation::kGeluTanh},
    {"gelu_pytorch_tanh", Activation::kGeluTanh},
    {"gelu_fast", Activation::kGeluTanh},
    {"gelu_accurate", Activation::kGeluTanh},
    {"quick_gelu", Activation::kQuickGelu},
    {"relu", Activation::kRelu},
    {"relu2", Activation::kRelu2},
};

}  // namespace

Result<Activation> activation_from_name(std::string_view name) {
    std::string known;
    for (const NamedActivation& a : kActivations) {
        if (name == a.name) return a.act;
        known += known.empty() ? "" : ", ";
        known += a.name;
    }
    return invalid_argument("unsupported activation \"" + std::string(name) + "\" (expected one of: " + known + ")");
}

const char* activation_name(Activation a) {
    switch (a) {
        case Activation::kSilu: return "silu";
        case Activation::kGelu: return "gelu";
        case Activation::kGeluTanh: return "gelu_pytorch_tanh";
        case Activation::kQuickGelu: return "quick_gelu";
        case Activation::kRelu: return "relu";
        case Activation::kRelu2: return "relu2";
    }
    return "unknown";
}

Status activation(Tensor& x, Activation act) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("activation", {&x}, &dev));
    KITE_RETURN_IF_ERROR(require_f32("activation", "x", x));
    return KITE_DISPATCH(dev, activation, x.data<float>(), x.numel(), act);
}

Status act_mul(const Tensor& gate_up, Activation act, Tensor& out) {
    const std::string op = std::string(activation_name(act)) + "_mul";
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices(op.c_str(), {&gate_up, &out}, &dev));
    KITE_RETURN_IF_ERROR(require_shape(op.c_str(), "gate_up", gate_up, 2));
    KITE_RETURN_IF_ERROR(require_f32(op.c_str(), "gate_up", gate_up));
    KITE_RETURN_IF_ERROR(require_f32(op.c_str(), "out", out));
    const int64_t T = gate_up.dim(0), n = gate_up.dim(1) / 2;
    if (gate_up.dim(1) % 2 != 0 || out.ndim() != 2 || out.dim(0) != T || out.dim(1) != n)
        return invalid_argument(op + ": gate_up " + gate_up.shape_string() + " and out " + out.shape_string() +
                                " do not agree (expected [T, 2n] and [T, n])");
    return KITE_DISPATCH(dev, act_mul, gate_up.data<float>(), T, n, act, out.data<float>());
}

Status silu_mul(const Tensor& gate_up, Tensor& out) { return act_mul(gate_up, Activation::kSilu, out); }
Status gelu_mul(const Tensor& gate_up, Tensor& out) { return act_mul(gate_up, Activation::kGelu, out); }
Status gelu_tanh_mul(const Tensor& gate_up, Tensor& out) { return act_mul(gate_up, Activation::kGeluTanh, out); }

}  // namespace kite::ops
