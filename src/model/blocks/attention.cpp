#include "model/blocks/attention.h"

#include <cmath>

#include "ops/kv_quant.h"
#include "ops/ops.h"

namespace kite {

std::vector<int64_t> qkv_order_per_head(int num_heads, int head_dim) {
    std::vector<int64_t> order;
    for (int part = 0; part < 3; ++part)
        for (int h = 0; h < num_heads; ++h)
            for (int i = 0; i < head_dim; ++i) order.push_back((int64_t(h) * 3 + part) * head_dim + i);
    return order;
}

std::vector<int64_t> qkv_order_per_group(int num_kv_heads, int q_per_kv, int head_dim) {
    std::vector<int64_t> order;
    const int64_t group = int64_t(q_per_kv + 2) * head_dim;
    for (int g = 0; g < num_kv_heads; ++g)  // queries, group by group (query head = g * q_per_kv + j)
        for (int j = 0; j < q_per_kv; ++j)
            for (int i = 0; i < head_dim; ++i) order.push_back(g * group + int64_t(j) * head_dim + i);
    for (int part = 0; part < 2; ++part)  // then every group's key, then every group's value
        for (int g = 0; g < num_kv_heads; ++g)
            for (int i = 0; i < head_dim; ++i) order.push_back(g * group + int64_t(q_per_kv + part) * head_dim + i);
    return order;
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
    if (!spec.alibi_slopes.empty() && static_cast<int>(spec.alibi_slopes.size()) != spec.num_heads)
        return internal_error("AttentionSpec: one ALiBi slope per head expected");
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
    KITE_RETURN_IF_ERROR(qkv_.forward(x, qkv, ctx));
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
    ap.logit_softcap = spec_.softcap;
    ap.alibi_slopes = spec_.alibi_slopes;
    ap.alibi_falcon_bf16 = spec_.alibi_falcon_bf16;
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
    return o_.forward(attn.reshape({T, nh * D}), out, ctx);
}

}  // namespace kite
