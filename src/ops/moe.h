// Mixture-of-experts ops: the router (which experts each token goes to, with which weight) and the
// routed experts' SwiGLU MLPs. Routing follows transformers 5 for every family kite runs: softmax
// or sigmoid scores, an optional bias used only to choose (DeepSeek-V3's e_score_correction_bias),
// grouped top-k (n_group / topk_group), renormalisation of the chosen weights, a final scale.
//
// Batch invariance: a token's experts are kept in ascending expert id, and its output is summed in
// that order (0 + w0*y0 + w1*y1 ...), each expert's rows computed by the batch-invariant GEMM. So a
// token's result does not depend on which other tokens share its experts in the step.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/ops.h"

namespace kite::ops {

enum class RouterScoring { kSoftmax, kSigmoid };
// How a group of experts is scored for grouped top-k: the largest score in the group (DeepSeek-V2
// "group_limited_greedy") or the sum of its two largest (DeepSeek-V3).
enum class GroupScoring { kMax, kTop2Sum };

struct RouterParams {
    int num_experts = 0;
    int top_k = 1;
    RouterScoring scoring = RouterScoring::kSoftmax;
    // Grouped top-k: experts split into n_group equal groups, only the best topk_group groups are
    // eligible. n_group <= 1 turns it off.
    int n_group = 1;
    int topk_group = 1;
    GroupScoring group_scoring = GroupScoring::kTop2Sum;
    // The score an expert of a dropped group competes with: -inf (V3) or 0 (V2, softmax scores).
    float masked_score = -INFINITY;
    bool renormalize = false;       // divide the chosen weights by their sum (norm_topk_prob)
    float renormalize_eps = 0.0f;   // added to that sum (DeepSeek-V3: 1e-20)
    float scaling = 1.0f;           // routed_scaling_factor, applied last
};

// Each token's top_k experts in ascending id and their weights (row t: [t * top_k, (t+1) * top_k)).
struct Routing {
    int64_t num_tokens = 0;
    int top_k = 0;
    std::vector<int32_t> expert;
    std::vector<float> weight;
};

// logits: [T, num_experts] f32 on the host (the router GEMM's output). bias: [num_experts] f32 or
// null; it shifts the scores used to choose, never the weights.
Status route(const Tensor& logits, const Tensor* bias, const RouterParams& p, Routing& out);

// The routed experts of one layer as the ops see them: experts [first_expert, first_expert + E) of
// the model, each a gated MLP (SwiGLU with silu). gate_up: [E, 2I, H] (gate rows, then up rows); down: [E, H, I].
// f32 on the CPU (or GGUF blocks, one expert's rows after another); f32 or bf16 on the GPU.
struct ExpertWeights {
    Tensor gate_up;
    Tensor down;
    int first_expert = 0;
    Activation act = Activation::kSilu;  // act(gate) * up (hidden_act)
    int64_t num_local() const { return gate_up.defined() ? gate_up.dim(0) : 0; }
    int64_t hidden() const { return gate_up.dim(2); }
    int64_t intermediate() const { return down.dim(2); }
};

// out[t] = sum over token t's routed experts held by `w` (ascending id) of weight * expert(x[t]);
// experts not held contribute nothing (expert parallelism adds them elsewhere). x, out: [T, H] f32
// on one device; `routing` is on the host.
Status moe_experts(const Tensor& x, const Routing& routing, const ExpertWeights& w, Tensor& out);

// out[t] += g_t * y[t], g_t = sigmoid(gate_logits[t]) or 1 without gate_logits: a shared expert's
// output y joining the routed sum (Qwen2-MoE gates it by sigmoid(x . w_gate), DeepSeek does not).
// out, y: [T, H] f32; gate_logits: [T, 1] f32; one device.
Status add_shared_expert(Tensor& out, const Tensor& y, const Tensor* gate_logits);

}  // namespace kite::ops
