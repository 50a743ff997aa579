// TEMPORARY until the newops branch lands in this branch: the op declarations the blocks use that
// ops/ops.h does not have yet, forwarding to the existing ops where they exist and refusing the
// rest. Deleted by the merge of newops (its ops.h declares these for real).
#pragma once

#include <string_view>

#include "ops/ops.h"

namespace kite::ops {

inline Status layer_norm(const Tensor&, const Tensor&, const Tensor*, float, Tensor&) {
    return unimplemented("layer_norm: not in this build yet");
}
inline Status add_layer_norm(Tensor&, const Tensor&, const Tensor&, const Tensor*, float, Tensor&) {
    return unimplemented("add_layer_norm: not in this build yet");
}
enum class Activation { kSilu, kGelu, kGeluTanh };
inline Result<Activation> activation_from_name(std::string_view name) {
    if (name == "silu" || name == "swish") return Activation::kSilu;
    return unimplemented("hidden_act '" + std::string(name) + "' is not supported (expected silu)");
}
inline Status activation(Tensor&, Activation) { return unimplemented("activation: not in this build yet"); }
inline Status act_mul(const Tensor& gate_up, Activation a, Tensor& out) {
    if (a == Activation::kSilu) return silu_mul(gate_up, out);
    return unimplemented("act_mul: only silu in this build");
}
inline Status scale_inplace(Tensor&, float) { return unimplemented("scale_inplace: not in this build yet"); }
inline Status soft_cap(Tensor&, float) { return unimplemented("soft_cap: not in this build yet"); }
enum class RopeLayout { kHalves, kInterleaved };
inline Status rope(Tensor& x, const Tensor& cos, const Tensor& sin, int rot_dim, RopeLayout layout) {
    if (layout == RopeLayout::kHalves) return rope(x, cos, sin, rot_dim);
    return unimplemented("rope: interleaved pairs not in this build yet");
}

}  // namespace kite::ops
