#include "model/blocks/attention.h"

#include <cmath>

#include "model/blocks/pending_ops.h"
#include "ops/kv_quant.h"

namespace kite {

std::vector<float> alibi_slopes(int n) {
    const int closest = 1 << static_cast<int>(std::floor(std::log2(n)));
    const double base = std::pow(2.0, -std::pow(2.0, -(std::log2(closest) - 3)));
    std::vector<float> s;
    for (int i = 1; i <= closest; ++i) s.push_back(static_cast<float>(std::pow(base, i)));
    if (closest != n) {
        const double extra_base = std::pow(2.0, -std::pow(2.0, -(std::log2(2 * closest) - 3)));
        const int extra = std::min(closest, n - closest);
        for (int i = 0; i < extra; ++i) s.push_back(static_cast<float>(std::pow(extra_base, 1 + 2 * i)));
    }
    return s;
}

Result<std::unique_ptr<MixerBlock>> AttentionBlock::load(const AttentionSpec& spec, WeightLoader& loader) {
    auto b = std::make_unique<AttentionBlock>();
    b->spec_ = spec;
    const int64_t D = spec.head_dim;
    if (spec.qkv.out() != int64_t(spec.num_heads + 2 * spec.num_kv_heads) * D)
        return internal_error("AttentionSpec: qkv rows disagree with the head counts");
    KITE_ASSIGN_OR_RETURN(b->qkv_, Linear::load(spec.qkv, loader));
    KITE_ASSIGN_OR_RETURN(b->o_, Linear::load(spec.o, loader));
    KITE_ASSIGN_OR_RETURN(b->q_norm_, Norm::load(spec.q_norm, loader, D));
    KITE_ASSIGN_OR_RETURN(b->k_norm_, Norm::load(spec.k_norm, loader, D));
    if (spec.alibi) {
        b->alibi_slopes_ = alibi_slopes(spec.num_heads);
        for (float& s : b->alibi_slopes_) s *= spec.alibi_scale;
    }
    return std::unique_ptr<MixerBlock>(std::move(b));
}

void AttentionBlock::tensors(TensorList& out) {
    qkv_.tensors(out);
    o_.tensors(out);
    q_norm_.tensors(out);
    k_norm_.tensors(out);
}

Status AttentionBlock::forward(int layer, const Tensor& x, StepContext& ctx, Tensor& out) {
    const ForwardBatch& batch = ctx.batch;
    const int64_t T = x.dim(0), D = spec_.head_dim, nh = spec_.num_heads, nkv = spec_.num_kv_heads;
    Tensor& qkv = ctx.ws.get("attn.qkv", {T, (nh + 2 * nkv) * D});
    Tensor& q = ctx.ws.get("attn.q", {T, nh, D});
    Tensor& k = ctx.ws.get("attn.k", {T, nkv, D});
    Tensor& v = ctx.ws.get("attn.v", {T, nkv, D});
    Tensor& attn = ctx.ws.get("attn.out", {T, nh, D});
    KITE_RETURN_IF_ERROR(qkv_.forward(x, qkv));
    KITE_RETURN_IF_ERROR(take_columns(qkv, 0, nh * D, q));
    KITE_RETURN_IF_ERROR(take_columns(qkv, nh * D, nkv * D, k));
    KITE_RETURN_IF_ERROR(take_columns(qkv, (nh + nkv) * D, nkv * D, v));
    if (q_norm_.defined()) {
        Tensor qr = q.reshape({T * nh, D});
        KITE_RETURN_IF_ERROR(q_norm_.forward(qr, qr));
    }
    if (k_norm_.defined()) {
        Tensor kr = k.reshape({T * nkv, D});
        KITE_RETURN_IF_ERROR(k_norm_.forward(kr, kr));
    }
    if (spec_.rope >= 0) {
        const RopeTable& r = ctx.rope[spec_.rope];
        const ops::RopeLayout layout = r.interleaved ? ops::RopeLayout::kInterleaved : ops::RopeLayout::kHalves;
        KITE_RETURN_IF_ERROR(ops::rope(q, r.cos, r.sin, r.rot_dim, layout));
        KITE_RETURN_IF_ERROR(ops::rope(k, r.cos, r.sin, r.rot_dim, layout));
    }
    ops::AttentionParams ap;
    ap.scale = spec_.scale > 0 ? spec_.scale : 1.0f / std::sqrt(static_cast<float>(D));
    ap.sliding_window = spec_.sliding_window;
    if (spec_.softcap > 0 || spec_.alibi) return unimplemented("attention soft-capping / ALiBi: not in this build yet");
    if (const ops::KvCacheDtype kvd = ctx.kv.shape().kv_dtype; kvd != ops::KvCacheDtype::kAuto) {  // 8-bit cache
        KvCache& kv = ctx.kv;
        KITE_RETURN_IF_ERROR(ops::write_kv_quant(kvd, k, v, batch.slot_mapping, kv.k(layer), kv.v(layer), kv.k_scale(layer),
                                                 kv.v_scale(layer)));
        KITE_RETURN_IF_ERROR(ops::paged_attention_quant(kvd, q, kv.k(layer), kv.v(layer), kv.k_scale(layer), kv.v_scale(layer),
                                                        batch.query_start, batch.context_lens, batch.block_tables, ap, attn));
        return o_.forward(attn.reshape({T, nh * D}), out);
    }
    KITE_RETURN_IF_ERROR(ops::write_kv(k, v, batch.slot_mapping, ctx.kv.k(layer), ctx.kv.v(layer)));
    KITE_RETURN_IF_ERROR(ops::paged_attention(q, ctx.kv.k(layer), ctx.kv.v(layer), batch.query_start,
                                              batch.context_lens, batch.block_tables, ap, attn));
    return o_.forward(attn.reshape({T, nh * D}), out);
}

}  // namespace kite
