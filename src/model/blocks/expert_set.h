// The routed experts of one MoE layer as an object that may hold only some of them, and the seam
// where tokens would travel to the experts they chose (expert parallelism).
//
// ExpertSet holds experts [first, first + count) of a layer's num_experts, stacked as the fused
// kernels want them (gate|up [count, 2I, H], down [count, H, I]). ExpertDispatch computes, for every
// token of the step, the weighted sum of its chosen experts wherever they live. kite runs in one
// process today (LocalExpertDispatch: every expert is local); an expert-parallel dispatch would
// send each token's row to the ranks holding its experts (an all-to-all, NCCL when several GPUs
// are lent), let each rank run ops::moe_experts on its ExpertSet, and sum the returned rows per
// token in rank order, a fixed order, so the batch invariance of the local path carries over.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/weight_loader.h"
#include "ops/moe.h"

namespace kite {

// Where a checkpoint keeps a layer's routed experts. transformers 5 saves them stacked
// ("<prefix>gate_up_proj" [E, 2I, H], "<prefix>down_proj" [E, H, I]); the published checkpoints
// keep one module per expert ("<prefix><e>.gate_proj.weight", Mixtral's w1/w3/w2); GGUF files
// stack gate and up apart (read as "<prefix>gate_proj" / "up_proj" / "down_proj", [E, I, H] and
// [E, H, I]). All three load.
struct ExpertNames {
    std::vector<std::string> prefixes;  // alternatives, e.g. {"...mlp.experts.", "...block_sparse_moe.experts."}
    std::string gate = "gate_proj.weight", up = "up_proj.weight", down = "down_proj.weight";  // per expert
};

class ExpertSet {
public:
    // Experts [first, first + count) of num_experts, hidden H, intermediate I.
    static Result<ExpertSet> load(const ExpertNames& names, int num_experts, int first, int count, int64_t H,
                                  int64_t I, ops::Activation act, WeightLoader& loader);
    bool holds(int expert) const { return expert >= w_.first_expert && expert < w_.first_expert + w_.num_local(); }
    const ops::ExpertWeights& weights() const { return w_; }
    void tensors(std::vector<Tensor*>& out) {
        out.push_back(&w_.gate_up);
        out.push_back(&w_.down);
    }

private:
    ops::ExpertWeights w_;
};

class ExpertDispatch {
public:
    virtual ~ExpertDispatch() = default;
    // out [T, H] = per token, sum over its routed experts (ascending id) of weight * expert(x).
    virtual Status run(const Tensor& x, const ops::Routing& routing, const ExpertSet& local, Tensor& out) = 0;
};

// One process holds every expert: the op runs them all here.
class LocalExpertDispatch final : public ExpertDispatch {
public:
    Status run(const Tensor& x, const ops::Routing& routing, const ExpertSet& local, Tensor& out) override;
};

}  // namespace kite
