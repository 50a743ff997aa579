// Mixture-of-experts feed-forward block: a router (linear to num_experts logits, then ops::route),
// routed SwiGLU experts (ExpertSet, run through an ExpertDispatch), and optional shared experts
// every token goes through, gated by sigmoid(x . w) in Qwen2-MoE, plain in DeepSeek. The family
// file fills an MoeSpec from its config.json (model/arch/{mixtral,qwen_moe,deepseek_v3}.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/blocks/block.h"
#include "model/blocks/expert_set.h"
#include "model/blocks/mlp.h"
#include "ops/moe.h"

namespace kite {

struct MoeSpec {
    int64_t hidden = 0;
    int64_t expert_intermediate = 0;
    ops::RouterParams router;                 // num_experts, top_k, scoring, groups, renormalise, scale
    std::vector<std::string> router_weight;   // [num_experts, hidden]; alternatives, first present wins
    std::string correction_bias;              // DeepSeek-V3's e_score_correction_bias [num_experts]; empty: none
    ExpertNames experts;
    std::string act = "silu";                 // hidden_act of the experts (act(gate) * up)
    MlpSpec shared;                           // shared expert(s); shared.up.weights empty: none
    std::string shared_gate;                  // Qwen2-MoE's shared_expert_gate [1, hidden]; empty: ungated
    // The experts this process holds (expert parallelism); count 0 = all of them.
    int first_expert = 0, expert_count = 0;
};

class MoeBlock final : public FeedForwardBlock {
public:
    static Result<std::unique_ptr<FeedForwardBlock>> load(const MoeSpec& spec, WeightLoader& loader);
    Status forward(const Tensor& x, StepContext& ctx, Tensor& out) override;
    void tensors(TensorList& out) override;
    int64_t active_bytes_per_token() override;

private:
    MoeSpec spec_;
    Weight router_;
    Tensor bias_;  // stays on the host: routing is decided there
    ExpertSet experts_;
    std::unique_ptr<ExpertDispatch> dispatch_;
    std::unique_ptr<FeedForwardBlock> shared_;
    Weight shared_gate_;
};

}  // namespace kite
