// ops::rope, ops::write_kv, ops::add_inplace, ops::scale_inplace, ops::soft_cap: validation and
// dispatch.
#include <cmath>

#include "ops/cpu/kernels.h"
#include "ops/cuda/kernels.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace kite::ops {

Status rope(Tensor& x, const Tensor& cos, const Tensor& sin, int rot_dim, RopeLayout layout) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("rope", {&x, &cos, &sin}, &dev));
    KITE_RETURN_IF_ERROR(require_shape("rope", "x", x, 3));
    KITE_RETURN_IF_ERROR(require_f32("rope", "x", x));
    KITE_RETURN_IF_ERROR(require_f32("rope", "cos", cos));
    KITE_RETURN_IF_ERROR(require_f32("rope", "sin", sin));
    const int64_t T = x.dim(0), heads = x.dim(1), head_dim = x.dim(2);
    if (rot_dim <= 0 || rot_dim % 2 != 0 || rot_dim > head_dim)
        return invalid_argument("rope: rot_dim " + std::to_string(rot_dim) + " must be even and <= head_dim " +
                                std::to_string(head_dim));
    if (cos.numel() != T * rot_dim / 2 || sin.numel() != cos.numel())
        return invalid_argument("rope: cos/sin must be [" + std::to_string(T) + ", " + std::to_string(rot_dim / 2) + "]");
    return KITE_DISPATCH(dev, rope, x.data<float>(), T, heads, head_dim, cos.data<float>(), sin.data<float>(), rot_dim,
                         layout);
}

Status add_inplace(Tensor& x, const Tensor& y) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("add", {&x, &y}, &dev));
    KITE_RETURN_IF_ERROR(require_f32("add", "x", x));
    KITE_RETURN_IF_ERROR(require_f32("add", "y", y));
    if (x.numel() != y.numel()) return invalid_argument("add: " + x.shape_string() + " vs " + y.shape_string());
    return KITE_DISPATCH(dev, add_inplace, x.data<float>(), y.data<float>(), x.numel());
}

Status scale_inplace(Tensor& x, float s) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("scale", {&x}, &dev));
    KITE_RETURN_IF_ERROR(require_f32("scale", "x", x));
    if (!std::isfinite(s)) return invalid_argument("scale: factor " + std::to_string(s) + " is not finite");
    return KITE_DISPATCH(dev, scale, x.data<float>(), x.numel(), s);
}

Status soft_cap(Tensor& x, float cap) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("soft_cap", {&x}, &dev));
    KITE_RETURN_IF_ERROR(require_f32("soft_cap", "x", x));
    if (!(cap > 0.0f) || !std::isfinite(cap))
        return invalid_argument("soft_cap: cap " + std::to_string(cap) + " must be a positive finite number");
    return KITE_DISPATCH(dev, soft_cap, x.data<float>(), x.numel(), cap);
}

Status write_kv(const Tensor& k, const Tensor& v, std::span<const int64_t> slot_mapping, Tensor& k_pool,
                Tensor& v_pool) {
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices("write_kv", {&k, &v, &k_pool, &v_pool}, &dev));
    KITE_RETURN_IF_ERROR(require_shape("write_kv", "k_pool", k_pool, 4));
    KITE_RETURN_IF_ERROR(require_shape("write_kv", "v_pool", v_pool, 4));
    for (const Tensor* t : std::initializer_list<const Tensor*>{&k, &v, &k_pool, &v_pool})
        KITE_RETURN_IF_ERROR(require_f32("write_kv", "every tensor", *t));
    const int64_t T = static_cast<int64_t>(slot_mapping.size());
    const int64_t num_slots = k_pool.dim(0) * k_pool.dim(1);
    // Rows of kv_heads x head_dim (keys) and kv_heads x v_head_dim (values), one per slot.
    const int64_t k_row = k_pool.dim(2) * k_pool.dim(3), v_row = v_pool.dim(2) * v_pool.dim(3);
    if (k.ndim() < 1 || k.dim(0) != T || k.numel() != T * k_row || v.numel() != T * v_row ||
        v_pool.dim(0) * v_pool.dim(1) != num_slots)
        return invalid_argument("write_kv: k " + k.shape_string() + " and v " + v.shape_string() + " for " +
                                std::to_string(T) + " slots do not fit the pools " + k_pool.shape_string() + " and " +
                                v_pool.shape_string());
    for (int64_t s : slot_mapping) {
        if (s < 0 || s >= num_slots) return invalid_argument("write_kv: slot " + std::to_string(s) + " outside the pool");
    }
    return KITE_DISPATCH(dev, write_kv, k.data<float>(), v.data<float>(), T, k_row, v_row, slot_mapping,
                         k_pool.data<float>(), v_pool.data<float>());
}

}  // namespace kite::ops
