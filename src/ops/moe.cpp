// ops::moe_experts: validation and dispatch (ops/cpu/moe_experts.cpp, ops/cuda/moe.cu).
#include "ops/cpu/moe_kernels.h"
#include "ops/cuda/moe_kernels.h"
#include "ops/dispatch.h"
#include "ops/moe.h"

namespace kite::ops {

Status moe_experts(const Tensor& x, const Routing& r, const ExpertWeights& w, Tensor& out) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("moe_experts", {&x, &w.gate_up, &w.down, &out}, &dev));
    KITE_RETURN_IF_ERROR(require_f32("moe_experts", "x", x));
    KITE_RETURN_IF_ERROR(require_f32("moe_experts", "out", out));
    if (w.gate_up.ndim() != 3 || w.down.ndim() != 3)
        return invalid_argument("moe_experts: gate_up must be [experts, 2 * intermediate, hidden] and down [experts, "
                                "hidden, intermediate], got " + w.gate_up.shape_string() + " and " + w.down.shape_string());
    const int64_t E = w.num_local(), H = w.hidden(), I = w.intermediate();
    if (w.gate_up.dim(1) != 2 * I || w.down.dim(0) != E || w.down.dim(1) != H)
        return invalid_argument("moe_experts: gate_up " + w.gate_up.shape_string() + " and down " +
                                w.down.shape_string() + " do not agree");
    if (x.ndim() != 2 || x.dim(1) != H || out.ndim() != 2 || out.dim(0) != x.dim(0) || out.dim(1) != H)
        return invalid_argument("moe_experts: x " + x.shape_string() + " and out " + out.shape_string() +
                                " must both be [tokens, " + std::to_string(H) + "]");
    const int64_t T = x.dim(0);
    if (r.num_tokens != T || r.top_k <= 0 || static_cast<int64_t>(r.expert.size()) != T * r.top_k ||
        r.weight.size() != r.expert.size())
        return invalid_argument("moe_experts: routing is for " + std::to_string(r.num_tokens) + " tokens, x has " +
                                std::to_string(T));
    return KITE_DISPATCH(dev, moe_experts, x.data<float>(), T, r, w, out.data<float>());
}

Status add_shared_expert(Tensor& out, const Tensor& y, const Tensor* gate_logits) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("add_shared_expert", {&out, &y, gate_logits}, &dev));
    KITE_RETURN_IF_ERROR(require_f32("add_shared_expert", "out", out));
    KITE_RETURN_IF_ERROR(require_f32("add_shared_expert", "y", y));
    if (out.ndim() != 2 || y.shape() != out.shape())
        return invalid_argument("add_shared_expert: out " + out.shape_string() + " and y " + y.shape_string() +
                                " must be the same [tokens, hidden]");
    const int64_t T = out.dim(0), H = out.dim(1);
    if (gate_logits != nullptr && (gate_logits->dtype() != DType::kF32 || gate_logits->numel() != T))
        return invalid_argument("add_shared_expert: gate logits must be f32 [" + std::to_string(T) + ", 1]");
    const float* g = gate_logits ? gate_logits->data<float>() : nullptr;
    return KITE_DISPATCH(dev, add_shared_expert, out.data<float>(), y.data<float>(), g, T, H);
}

}  // namespace kite::ops
