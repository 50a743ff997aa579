// ops::mla_*: validation and dispatch (ops/cpu/mla_attention.cpp, ops/cuda/mla.cu).
#include "ops/cpu/moe_kernels.h"
#include "ops/cuda/moe_kernels.h"
#include "ops/dispatch.h"
#include "ops/mla.h"

namespace kite::ops {

namespace {

Status check_dims(const char* op, const MlaDims& d) {
    if (d.heads <= 0 || d.latent <= 0 || d.rope <= 0 || d.rope % 2 != 0 || d.nope < 0 || d.v <= 0)
        return invalid_argument(std::string(op) + ": heads, kv_lora_rank, v_head_dim must be positive and "
                                "qk_rope_head_dim positive and even");
    return Status::ok();
}

Status check(const char* op, const Tensor& t, const char* what, std::vector<int64_t> want) {
    KITE_RETURN_IF_ERROR(require_f32(op, what, t));
    int64_t n = 1;
    for (int64_t v : want) n *= v;
    if (t.numel() != n || t.dim(-1) != want.back())
        return invalid_argument(std::string(op) + ": " + what + " is " + t.shape_string() + ", expected " +
                                Tensor::view(nullptr, DType::kF32, want, nullptr).shape_string());
    return Status::ok();
}

Status check_rope(const char* op, const Tensor& cos, const Tensor& sin, int64_t T, const MlaDims& d) {
    KITE_RETURN_IF_ERROR(check(op, cos, "cos", {T, d.rope / 2}));
    return check(op, sin, "sin", {T, d.rope / 2});
}

}  // namespace

Status mla_write_latent(const Tensor& kv_a, const MlaDims& d, const Tensor& norm_w, float eps, const Tensor& cos,
                        const Tensor& sin, std::span<const int64_t> slot_mapping, Tensor& pool) {
    const char* op = "mla_write_latent";
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices(op, {&kv_a, &norm_w, &cos, &sin, &pool}, &dev));
    KITE_RETURN_IF_ERROR(check_dims(op, d));
    const int64_t T = kv_a.ndim() > 0 ? kv_a.dim(0) : 0;
    KITE_RETURN_IF_ERROR(check(op, kv_a, "kv_a", {T, d.row()}));
    KITE_RETURN_IF_ERROR(check(op, norm_w, "kv_a_layernorm weight", {d.latent}));
    KITE_RETURN_IF_ERROR(check_rope(op, cos, sin, T, d));
    if (pool.dtype() != DType::kF32 || pool.ndim() < 2 || pool.dim(-1) != d.row())
        return invalid_argument(std::string(op) + ": pool must be f32 [blocks, block_size, " + std::to_string(d.row()) +
                                "], got " + pool.shape_string());
    if (static_cast<int64_t>(slot_mapping.size()) != T) return invalid_argument(std::string(op) + ": one slot per token");
    const int64_t slots = pool.numel() / d.row();
    for (int64_t s : slot_mapping)
        if (s < 0 || s >= slots) return invalid_argument(std::string(op) + ": slot " + std::to_string(s) + " outside the pool");
    return KITE_DISPATCH(dev, mla_write_latent, kv_a.data<float>(), T, d, norm_w.data<float>(), eps, cos.data<float>(),
                         sin.data<float>(), slot_mapping, pool.data<float>());
}

Status mla_absorb_query(const Tensor& q, const MlaDims& d, const Tensor& w_uk_t, const Tensor& cos, const Tensor& sin,
                        Tensor& q_abs) {
    const char* op = "mla_absorb_query";
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices(op, {&q, &w_uk_t, &cos, &sin, &q_abs}, &dev));
    KITE_RETURN_IF_ERROR(check_dims(op, d));
    const int64_t T = q.ndim() > 0 ? q.dim(0) : 0;
    KITE_RETURN_IF_ERROR(check(op, q, "q", {T, d.heads, d.nope + d.rope}));
    KITE_RETURN_IF_ERROR(check(op, w_uk_t, "w_uk_t", {d.heads, d.latent, d.nope}));
    KITE_RETURN_IF_ERROR(check_rope(op, cos, sin, T, d));
    KITE_RETURN_IF_ERROR(check(op, q_abs, "q_abs", {T, d.heads, d.row()}));
    return KITE_DISPATCH(dev, mla_absorb_query, q.data<float>(), T, d, w_uk_t.data<float>(), cos.data<float>(),
                         sin.data<float>(), q_abs.data<float>());
}

Status mla_attention(const Tensor& q_abs, const Tensor& pool, const MlaDims& d, std::span<const int32_t> query_start,
                     std::span<const int32_t> context_lens, const std::vector<std::vector<int32_t>>& block_tables,
                     float scale, Tensor& out_latent) {
    const char* op = "mla_attention";
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices(op, {&q_abs, &pool, &out_latent}, &dev));
    KITE_RETURN_IF_ERROR(check_dims(op, d));
    const int64_t T = q_abs.ndim() > 0 ? q_abs.dim(0) : 0;
    KITE_RETURN_IF_ERROR(check(op, q_abs, "q_abs", {T, d.heads, d.row()}));
    KITE_RETURN_IF_ERROR(check(op, out_latent, "out", {T, d.heads, d.latent}));
    if (pool.dtype() != DType::kF32 || pool.ndim() != 3 || pool.dim(2) != d.row())
        return invalid_argument(std::string(op) + ": pool must be f32 [blocks, block_size, " + std::to_string(d.row()) +
                                "], got " + pool.shape_string());
    const size_t S = context_lens.size();
    if (query_start.size() != S + 1 || block_tables.size() != S || query_start[S] != T)
        return invalid_argument(std::string(op) + ": query_start, context_lens and block_tables disagree");
    const int64_t bs = pool.dim(1);
    for (size_t s = 0; s < S; ++s) {
        const int64_t n_new = query_start[s + 1] - query_start[s];
        if (n_new < 0 || context_lens[s] < n_new)
            return invalid_argument(std::string(op) + ": sequence " + std::to_string(s) + " has more new tokens than context");
        const int64_t need = (context_lens[s] + bs - 1) / bs;
        if (static_cast<int64_t>(block_tables[s].size()) < need)
            return invalid_argument(std::string(op) + ": sequence " + std::to_string(s) + " has too few blocks");
        for (int64_t i = 0; i < need; ++i)
            if (block_tables[s][i] < 0 || block_tables[s][i] >= pool.dim(0))
                return invalid_argument(std::string(op) + ": block id outside the pool");
    }
    return KITE_DISPATCH(dev, mla_attention, q_abs.data<float>(), pool.data<float>(), T, d, bs, query_start, context_lens,
                         block_tables, scale, out_latent.data<float>());
}

Status mla_project_values(const Tensor& o_lat, const MlaDims& d, const Tensor& w_uv, Tensor& out) {
    const char* op = "mla_project_values";
    Device dev{};
    KITE_RETURN_IF_ERROR(check_devices(op, {&o_lat, &w_uv, &out}, &dev));
    KITE_RETURN_IF_ERROR(check_dims(op, d));
    const int64_t T = o_lat.ndim() > 0 ? o_lat.dim(0) : 0;
    KITE_RETURN_IF_ERROR(check(op, o_lat, "o_lat", {T, d.heads, d.latent}));
    KITE_RETURN_IF_ERROR(check(op, w_uv, "w_uv", {d.heads, d.v, d.latent}));
    KITE_RETURN_IF_ERROR(check(op, out, "out", {T, d.heads * d.v}));
    return KITE_DISPATCH(dev, mla_project_values, o_lat.data<float>(), T, d, w_uv.data<float>(), out.data<float>());
}

}  // namespace kite::ops
