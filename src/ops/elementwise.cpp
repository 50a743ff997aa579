// ops::silu_mul, ops::rope, ops::add_inplace, ops::write_kv: validation and dispatch.
#include "ops/cpu/kernels.h"
#include "ops/cuda/kernels.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace kite::ops {

Status silu_mul(const Tensor& gate_up, Tensor& out) {
    KITE_RETURN_IF_ERROR(require_one_device("silu_mul", {&gate_up, &out}));
    KITE_RETURN_IF_ERROR(require_shape("silu_mul", "gate_up", gate_up, 2));
    const int64_t T = gate_up.dim(0), n = gate_up.dim(1) / 2;
    if (gate_up.dim(1) % 2 != 0 || out.ndim() != 2 || out.dim(0) != T || out.dim(1) != n)
        return invalid_argument("silu_mul: gate_up " + gate_up.shape_string() + " and out " + out.shape_string() +
                                " do not agree (expected [T, 2n] and [T, n])");
    if (on_cuda(gate_up)) return cuda::silu_mul(gate_up.data<float>(), T, n, out.data<float>());
    cpu::silu_mul(gate_up.data<float>(), T, n, out.data<float>());
    return Status::ok();
}

Status rope(Tensor& x, const Tensor& cos, const Tensor& sin, int rot_dim) {
    KITE_RETURN_IF_ERROR(require_one_device("rope", {&x, &cos, &sin}));
    KITE_RETURN_IF_ERROR(require_shape("rope", "x", x, 3));
    const int64_t T = x.dim(0), heads = x.dim(1), head_dim = x.dim(2);
    if (rot_dim <= 0 || rot_dim % 2 != 0 || rot_dim > head_dim)
        return invalid_argument("rope: rot_dim " + std::to_string(rot_dim) + " must be even and <= head_dim " +
                                std::to_string(head_dim));
    if (cos.numel() != T * rot_dim / 2 || sin.numel() != cos.numel())
        return invalid_argument("rope: cos/sin must be [" + std::to_string(T) + ", " + std::to_string(rot_dim / 2) + "]");
    if (on_cuda(x)) return cuda::rope(x.data<float>(), T, heads, head_dim, cos.data<float>(), sin.data<float>(), rot_dim);
    cpu::rope(x.data<float>(), T, heads, head_dim, cos.data<float>(), sin.data<float>(), rot_dim);
    return Status::ok();
}

Status add_inplace(Tensor& x, const Tensor& y) {
    KITE_RETURN_IF_ERROR(require_one_device("add", {&x, &y}));
    if (x.numel() != y.numel()) return invalid_argument("add: " + x.shape_string() + " vs " + y.shape_string());
    if (on_cuda(x)) return cuda::add_inplace(x.data<float>(), y.data<float>(), x.numel());
    float* a = x.data<float>();
    const float* b = y.data<float>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) a[i] += b[i];
    return Status::ok();
}

Status write_kv(const Tensor& k, const Tensor& v, std::span<const int64_t> slot_mapping, Tensor& k_pool,
                Tensor& v_pool) {
    KITE_RETURN_IF_ERROR(require_one_device("write_kv", {&k, &v, &k_pool, &v_pool}));
    KITE_RETURN_IF_ERROR(require_shape("write_kv", "k_pool", k_pool, 4));
    const int64_t T = k.dim(0);
    const int64_t row = k.numel() / (T == 0 ? 1 : T);
    const int64_t num_slots = k_pool.dim(0) * k_pool.dim(1);
    if (static_cast<int64_t>(slot_mapping.size()) != T || v.numel() != k.numel() ||
        k_pool.dim(2) * k_pool.dim(3) != row)
        return invalid_argument("write_kv: k " + k.shape_string() + " does not fit the pool " + k_pool.shape_string());
    for (int64_t s : slot_mapping) {
        if (s < 0 || s >= num_slots) return invalid_argument("write_kv: slot " + std::to_string(s) + " outside the pool");
    }
    if (on_cuda(k))
        return cuda::write_kv(k.data<float>(), v.data<float>(), T, row, slot_mapping, k_pool.data<float>(),
                              v_pool.data<float>());
    cpu::write_kv(k.data<float>(), v.data<float>(), T, row, slot_mapping, k_pool.data<float>(), v_pool.data<float>());
    return Status::ok();
}

}  // namespace kite::ops
