// ops::route: the MoE router's choice per token, on the host (a [T, E] matrix of logits is tiny next
// to the expert GEMMs, and the expert grouping that follows needs the choice on the host anyway).
// The steps and their order are transformers' (Mixtral/Qwen2-MoE/Qwen3-MoE TopKRouter, DeepSeek-V2
// and -V3 TopkRouter): scores, + bias for the choice, group mask, top-k, weights from the unbiased
// scores, renormalise, scale.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/moe.h"

namespace kite::ops {

namespace {

Status require_cpu(const char* op, const Tensor& t) {
    if (t.device() != Device::kCpu) return invalid_argument(std::string(op) + ": tensors must be on the host");
    return Status::ok();
}

Status check_params(const RouterParams& p) {
    if (p.num_experts <= 0) return invalid_argument("route: num_experts must be positive");
    if (p.top_k <= 0 || p.top_k > p.num_experts)
        return invalid_argument("route: top_k = " + std::to_string(p.top_k) + " must be in [1, num_experts = " +
                                std::to_string(p.num_experts) + "]");
    if (p.n_group > 1) {
        if (p.num_experts % p.n_group != 0)
            return invalid_argument("route: n_group = " + std::to_string(p.n_group) + " does not divide " +
                                    std::to_string(p.num_experts) + " experts");
        if (p.topk_group <= 0 || p.topk_group > p.n_group)
            return invalid_argument("route: topk_group = " + std::to_string(p.topk_group) + " must be in [1, n_group = " +
                                    std::to_string(p.n_group) + "]");
        if (p.group_scoring == GroupScoring::kTop2Sum && p.num_experts / p.n_group < 2)
            return invalid_argument("route: scoring groups by their top two needs at least 2 experts per group");
    }
    return Status::ok();
}

// Indices of the k largest values, largest first; equal values keep the lower index first.
void top_k_indices(const float* v, int n, int k, std::vector<int>& idx) {
    idx.resize(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [v](int a, int b) {
        return v[a] > v[b] || (v[a] == v[b] && a < b);
    });
    idx.resize(k);
}

// One token: logits [E] -> `top_k` (expert, weight) pairs in ascending expert id.
void route_one(const float* logits, const float* bias, const RouterParams& p, int32_t* experts, float* weights) {
    const int E = p.num_experts;
    std::vector<float> scores(E), choice(E);
    if (p.scoring == RouterScoring::kSoftmax) {
        const float mx = *std::max_element(logits, logits + E);
        float sum = 0;
        for (int e = 0; e < E; ++e) sum += (scores[e] = std::exp(logits[e] - mx));
        for (float& s : scores) s /= sum;
    } else {
        for (int e = 0; e < E; ++e) scores[e] = 1.0f / (1.0f + std::exp(-logits[e]));
    }
    for (int e = 0; e < E; ++e) choice[e] = bias ? scores[e] + bias[e] : scores[e];
    std::vector<int> idx;
    if (p.n_group > 1) {
        const int per = E / p.n_group;
        std::vector<float> group_score(p.n_group);
        for (int g = 0; g < p.n_group; ++g) {
            const float* c = choice.data() + g * per;
            if (p.group_scoring == GroupScoring::kMax) {
                group_score[g] = *std::max_element(c, c + per);
            } else {
                top_k_indices(c, per, 2, idx);
                group_score[g] = c[idx[0]] + c[idx[1]];
            }
        }
        top_k_indices(group_score.data(), p.n_group, p.topk_group, idx);
        std::vector<bool> keep(p.n_group, false);
        for (int g : idx) keep[g] = true;
        for (int e = 0; e < E; ++e)
            if (!keep[e / per]) choice[e] = p.masked_score;
    }
    top_k_indices(choice.data(), E, p.top_k, idx);
    float sum = 0;  // in top-k (descending) order, as transformers sums them
    for (int j = 0; j < p.top_k; ++j) sum += scores[idx[j]];
    std::sort(idx.begin(), idx.end());  // the fixed per-token accumulation order
    const float denom = sum + p.renormalize_eps;
    for (int j = 0; j < p.top_k; ++j) {
        float w = scores[idx[j]];
        if (p.renormalize) w /= denom;
        experts[j] = idx[j];
        weights[j] = w * p.scaling;
    }
}

}  // namespace

Status route(const Tensor& logits, const Tensor* bias, const RouterParams& p, Routing& out) {
    KITE_RETURN_IF_ERROR(check_params(p));
    KITE_RETURN_IF_ERROR(require_cpu("route", logits));
    KITE_RETURN_IF_ERROR(require_f32("route", "logits", logits));
    if (logits.ndim() != 2 || logits.dim(1) != p.num_experts)
        return invalid_argument("route: logits must be [tokens, " + std::to_string(p.num_experts) + "], got " +
                                logits.shape_string());
    if (bias != nullptr) {
        KITE_RETURN_IF_ERROR(require_cpu("route", *bias));
        if (bias->dtype() != DType::kF32 || bias->numel() != p.num_experts)
            return invalid_argument("route: bias must be f32 [" + std::to_string(p.num_experts) + "]");
    }
    const int64_t T = logits.dim(0);
    out.num_tokens = T;
    out.top_k = p.top_k;
    out.expert.resize(T * p.top_k);
    out.weight.resize(T * p.top_k);
    const float* l = logits.data<float>();
    const float* b = bias ? bias->data<float>() : nullptr;
    parallel_for(T, std::max<int64_t>(1, 4096 / p.num_experts), [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t)
            route_one(l + t * p.num_experts, b, p, out.expert.data() + t * p.top_k, out.weight.data() + t * p.top_k);
    });
    return Status::ok();
}

}  // namespace kite::ops
