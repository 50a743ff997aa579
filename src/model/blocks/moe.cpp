#include "model/blocks/moe.h"

#include <algorithm>

#include "core/device.h"
#include "ops/ops.h"

namespace kite {

Result<std::unique_ptr<FeedForwardBlock>> MoeBlock::load(const MoeSpec& spec, WeightLoader& loader) {
    auto b = std::make_unique<MoeBlock>();
    b->spec_ = spec;
    const int E = spec.router.num_experts;
    const int64_t H = spec.hidden;
    if (E <= 0 || spec.router.top_k <= 0 || spec.router.top_k > E)
        return invalid_argument("MoE: num_experts_per_tok = " + std::to_string(spec.router.top_k) +
                                " must be in [1, " + std::to_string(E) + " experts]");
    std::string router_name = spec.router_weight.front();
    for (auto it = spec.router_weight.rbegin(); it != spec.router_weight.rend(); ++it)
        if (loader.has(*it)) router_name = *it;  // the first present wins
    KITE_ASSIGN_OR_RETURN(b->router_, loader.linear({router_name}, {E}, H));
    if (!spec.correction_bias.empty()) {
        KITE_ASSIGN_OR_RETURN(b->bias_, loader.vector_f32({spec.correction_bias}, {E}));
    }
    const int count = spec.expert_count > 0 ? spec.expert_count : E;
    KITE_ASSIGN_OR_RETURN(ops::Activation act, ops::activation_from_name(spec.act));
    KITE_ASSIGN_OR_RETURN(b->experts_, ExpertSet::load(spec.experts, E, spec.first_expert, count, H,
                                                       spec.expert_intermediate, act, loader));
    b->dispatch_ = std::make_unique<LocalExpertDispatch>();
    if (!spec.shared.up.weights.empty()) {
        KITE_ASSIGN_OR_RETURN(b->shared_, MlpBlock::load(spec.shared, loader));
    }
    if (!spec.shared_gate.empty()) {
        KITE_ASSIGN_OR_RETURN(b->shared_gate_, loader.linear({spec.shared_gate}, {1}, H));
    }
    return std::unique_ptr<FeedForwardBlock>(std::move(b));
}

void MoeBlock::tensors(TensorList& out) {
    out.push_back(&router_.t);
    experts_.tensors(out);
    if (shared_) shared_->tensors(out);
    out.push_back(&shared_gate_.t);
}

int64_t MoeBlock::active_bytes_per_token() {
    TensorList all;
    tensors(all);
    int64_t bytes = 0;
    for (const Tensor* t : all)
        if (t->defined()) bytes += t->nbytes();
    const ops::ExpertWeights& w = experts_.weights();
    const int64_t per_expert = (w.gate_up.nbytes() + w.down.nbytes()) / std::max<int64_t>(1, w.num_local());
    const int64_t routed = std::min<int64_t>(spec_.router.top_k, w.num_local());
    return bytes - w.gate_up.nbytes() - w.down.nbytes() + routed * per_expert;
}

Status MoeBlock::forward(const Tensor& x, StepContext& ctx, Tensor& out) {
    const int64_t T = x.dim(0), E = spec_.router.num_experts;
    Tensor& logits = ctx.ws.get("moe.router", {T, E});
    KITE_RETURN_IF_ERROR(ops::linear(x, router_, nullptr, logits));
    Tensor host_logits = logits;
    if (logits.device() != Device::kCpu) {  // the choice is made on the host (a [T, E] copy)
        KITE_ASSIGN_OR_RETURN(host_logits, logits.to(Device::kCpu));
    }
    ops::Routing routing;
    KITE_RETURN_IF_ERROR(ops::route(host_logits, bias_.defined() ? &bias_ : nullptr, spec_.router, routing));
    KITE_RETURN_IF_ERROR(dispatch_->run(x, routing, experts_, out));
    if (!shared_) return Status::ok();
    Tensor& shared_out = ctx.ws.get("moe.shared", {T, spec_.hidden});
    KITE_RETURN_IF_ERROR(shared_->forward(x, ctx, shared_out));
    if (!shared_gate_.t.defined()) return ops::add_shared_expert(out, shared_out, nullptr);
    Tensor& gate = ctx.ws.get("moe.shared_gate", {T, 1});
    KITE_RETURN_IF_ERROR(ops::linear(x, shared_gate_, nullptr, gate));
    return ops::add_shared_expert(out, shared_out, &gate);
}

}  // namespace kite
