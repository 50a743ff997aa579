#include "model/blocks/mla.h"

#include <numeric>

#include "ops/ops.h"

namespace kite {

namespace {

// transformers builds DeepSeek's q_a_layernorm and kv_a_layernorm with the RMSNorm default eps, not
// config.rms_norm_eps.
constexpr float kLatentNormEps = 1e-6f;

// Row order turning rotary pairs (2i, 2i+1) into (i, i + rope/2) for the `rope` rows starting at
// each of `starts` (identity elsewhere).
std::vector<int64_t> deinterleave(int64_t rows, const std::vector<int64_t>& starts, int64_t rope) {
    std::vector<int64_t> order(rows);
    std::iota(order.begin(), order.end(), 0);
    for (int64_t s : starts)
        for (int64_t i = 0; i < rope; ++i) order[s + i] = s + (i < rope / 2 ? 2 * i : 2 * (i - rope / 2) + 1);
    return order;
}

}  // namespace

Result<std::unique_ptr<MixerBlock>> MlaBlock::load(const MlaSpec& spec, WeightLoader& loader) {
    auto b = std::make_unique<MlaBlock>();
    b->spec_ = spec;
    const ops::MlaDims& d = spec.dims;
    const std::string& p = spec.prefix;
    const int64_t H = spec.hidden, qd = d.nope + d.rope, L = d.latent;
    std::vector<int64_t> q_rope_rows;
    for (int64_t h = 0; h < d.heads; ++h) q_rope_rows.push_back(h * qd + d.nope);
    LinearSpec q;
    if (spec.q_lora_rank > 0) {
        KITE_ASSIGN_OR_RETURN(b->q_a_, Linear::load(LinearSpec::of({p + "q_a_proj"}, {spec.q_lora_rank}, H, spec.bias), loader));
        KITE_ASSIGN_OR_RETURN(b->q_a_norm_, Norm::load(NormSpec::rms(p + "q_a_layernorm", kLatentNormEps), loader,
                                                        spec.q_lora_rank));
        q = LinearSpec::of({p + "q_b_proj"}, {d.heads * qd}, spec.q_lora_rank, false);
    } else {
        q = LinearSpec::of({p + "q_proj"}, {d.heads * qd}, H, false);
    }
    LinearSpec kv_a = LinearSpec::of({p + "kv_a_proj_with_mqa"}, {L + d.rope}, H, spec.bias);
    if (spec.interleaved_rope) {
        q.row_order = deinterleave(d.heads * qd, q_rope_rows, d.rope);
        kv_a.row_order = deinterleave(L + d.rope, {L}, d.rope);
    }
    KITE_ASSIGN_OR_RETURN(b->q_b_, Linear::load(q, loader));
    KITE_ASSIGN_OR_RETURN(b->kv_a_, Linear::load(kv_a, loader));
    KITE_ASSIGN_OR_RETURN(b->kv_a_norm_, loader.vector_f32({p + "kv_a_layernorm.weight"}, {L}));
    KITE_ASSIGN_OR_RETURN(b->o_, Linear::load(LinearSpec::of({p + "o_proj"}, {H}, d.heads * d.v, spec.bias), loader));
    // kv_b_proj [heads * (nope + v), latent]: per head, nope rows of W_UK then v rows of W_UV.
    KITE_ASSIGN_OR_RETURN(Weight kv_b, loader.linear({p + "kv_b_proj.weight"}, {d.heads * (d.nope + d.v)}, L));
    KITE_ASSIGN_OR_RETURN(Tensor wkv, to_f32(kv_b.t, p + "kv_b_proj.weight"));
    b->w_uk_t_ = Tensor::zeros(DType::kF32, {d.heads, L, d.nope});
    b->w_uv_ = Tensor::zeros(DType::kF32, {d.heads, d.v, L});
    const float* src = wkv.data<float>();
    for (int64_t h = 0; h < d.heads; ++h) {
        const float* rows = src + h * (d.nope + d.v) * L;
        float* uk = b->w_uk_t_.data<float>() + h * L * d.nope;
        for (int64_t i = 0; i < d.nope; ++i)
            for (int64_t l = 0; l < L; ++l) uk[l * d.nope + i] = rows[i * L + l];
        std::copy(rows + d.nope * L, rows + (d.nope + d.v) * L, b->w_uv_.data<float>() + h * d.v * L);
    }
    return std::unique_ptr<MixerBlock>(std::move(b));
}

void MlaBlock::tensors(TensorList& out) {
    q_a_.tensors(out);
    q_a_norm_.tensors(out);
    q_b_.tensors(out);
    kv_a_.tensors(out);
    out.push_back(&kv_a_norm_);
    out.push_back(&w_uk_t_);
    out.push_back(&w_uv_);
    o_.tensors(out);
}

Status MlaBlock::forward(int layer, const Tensor& x, StepContext& ctx, Tensor& out) {
    const ops::MlaDims& d = spec_.dims;
    const int64_t T = x.dim(0), qd = d.nope + d.rope;
    Tensor& q = ctx.ws.get("mla.q", {T, d.heads * qd});
    if (spec_.q_lora_rank > 0) {
        Tensor& qa = ctx.ws.get("mla.q_a", {T, spec_.q_lora_rank});
        KITE_RETURN_IF_ERROR(q_a_.forward(x, qa));
        KITE_RETURN_IF_ERROR(q_a_norm_.forward(qa, qa));
        KITE_RETURN_IF_ERROR(q_b_.forward(qa, q));
    } else {
        KITE_RETURN_IF_ERROR(q_b_.forward(x, q));
    }
    Tensor& kv_a = ctx.ws.get("mla.kv_a", {T, d.row()});
    KITE_RETURN_IF_ERROR(kv_a_.forward(x, kv_a));
    const RopeTable& r = ctx.rope[spec_.rope];
    KITE_RETURN_IF_ERROR(ops::mla_write_latent(kv_a, d, kv_a_norm_, kLatentNormEps, r.cos, r.sin,
                                               ctx.batch.slot_mapping, ctx.kv.k(layer)));
    Tensor& q_abs = ctx.ws.get("mla.q_abs", {T, d.heads, d.row()});
    KITE_RETURN_IF_ERROR(ops::mla_absorb_query(q.reshape({T, d.heads, qd}), d, w_uk_t_, r.cos, r.sin, q_abs));
    Tensor& o_lat = ctx.ws.get("mla.o_latent", {T, d.heads, d.latent});
    KITE_RETURN_IF_ERROR(ops::mla_attention(q_abs, ctx.kv.k(layer).reshape({ctx.kv.k(layer).dim(0),
                                                                            ctx.kv.k(layer).dim(1), d.row()}),
                                            d, ctx.batch.query_start, ctx.batch.context_lens, ctx.batch.block_tables,
                                            spec_.scale, o_lat));
    Tensor& heads_out = ctx.ws.get("mla.v", {T, d.heads * d.v});
    KITE_RETURN_IF_ERROR(ops::mla_project_values(o_lat, d, w_uv_, heads_out));
    return o_.forward(heads_out, out);
}

}  // namespace kite
