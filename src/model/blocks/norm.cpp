#include "model/blocks/norm.h"

#include "ops/ops.h"

namespace kite {

NormSpec NormSpec::rms(std::string module, float eps, float weight_offset) {
    NormSpec s;
    s.kind = Kind::kRms;
    s.weight = module + ".weight";
    s.eps = eps;
    s.weight_offset = weight_offset;
    return s;
}

NormSpec NormSpec::layer(std::string module, float eps, bool bias) {
    NormSpec s;
    s.kind = Kind::kLayer;
    s.weight = module + ".weight";
    if (bias) s.bias = module + ".bias";
    s.eps = eps;
    return s;
}

Result<Norm> Norm::load(const NormSpec& spec, WeightLoader& loader, int64_t n) {
    Norm norm;
    norm.spec_ = spec;
    if (!spec.defined()) return norm;
    KITE_ASSIGN_OR_RETURN(norm.w_, loader.vector_f32({spec.weight}, {n}));
    if (spec.weight_offset != 0.0f) {
        float* w = norm.w_.data<float>();
        for (int64_t i = 0; i < n; ++i) w[i] += spec.weight_offset;
    }
    if (!spec.bias.empty()) {
        KITE_ASSIGN_OR_RETURN(norm.b_, loader.vector_f32({spec.bias}, {n}));
    }
    return norm;
}

Status Norm::forward(const Tensor& x, Tensor& out) const {
    switch (spec_.kind) {
        case NormSpec::Kind::kRms: return ops::rms_norm(x, w_, spec_.eps, out);
        case NormSpec::Kind::kLayer: return ops::layer_norm(x, w_, b_.defined() ? &b_ : nullptr, spec_.eps, out);
        case NormSpec::Kind::kNone: break;
    }
    return internal_error("Norm::forward on an absent norm");
}

Status Norm::add_forward(Tensor& residual, const Tensor& x, Tensor& out) const {
    switch (spec_.kind) {
        case NormSpec::Kind::kRms: return ops::add_rms_norm(residual, x, w_, spec_.eps, out);
        case NormSpec::Kind::kLayer:
            return ops::add_layer_norm(residual, x, w_, b_.defined() ? &b_ : nullptr, spec_.eps, out);
        case NormSpec::Kind::kNone: break;
    }
    return internal_error("Norm::add_forward on an absent norm");
}

}  // namespace kite
