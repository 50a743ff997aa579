#include "model/blocks/mlp.h"

#include "ops/ops.h"

namespace kite {

Result<std::unique_ptr<FeedForwardBlock>> MlpBlock::load(const MlpSpec& spec, WeightLoader& loader) {
    auto b = std::make_unique<MlpBlock>();
    b->spec_ = spec;
    KITE_ASSIGN_OR_RETURN(b->act_, ops::activation_from_name(spec.act));
    KITE_ASSIGN_OR_RETURN(b->up_, Linear::load(spec.up, loader));
    KITE_ASSIGN_OR_RETURN(b->down_, Linear::load(spec.down, loader));
    return std::unique_ptr<FeedForwardBlock>(std::move(b));
}

void MlpBlock::tensors(TensorList& out) {
    up_.tensors(out);
    down_.tensors(out);
}

Status MlpBlock::forward(const Tensor& x, StepContext& ctx, Tensor& out) {
    const int64_t T = x.dim(0), rows = spec_.up.out();
    Tensor& up = ctx.ws.get("mlp.up", {T, rows});
    KITE_RETURN_IF_ERROR(up_.forward(x, up, ctx));
    if (!spec_.gated) {
        KITE_RETURN_IF_ERROR(ops::activation(up, act_));
        return down_.forward(up, out, ctx);
    }
    Tensor& act = ctx.ws.get("mlp.act", {T, rows / 2});
    KITE_RETURN_IF_ERROR(ops::act_mul(up, act_, act));
    return down_.forward(act, out, ctx);
}

}  // namespace kite
