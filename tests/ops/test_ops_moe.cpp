// ops::route against a reference written from transformers' router code (full sort, double
// precision) and hand-worked cases; ops::moe_experts against a per-token double-precision SwiGLU
// sum, its batch invariance (a token's bits alone = in a batch), and expert subsets adding up to
// the whole (the expert-parallel split).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/moe.h"
#include "test_ops_util.h"

namespace kite::ops {
namespace {

using testing::random_floats;
using testing::tensor_of;
using testing::values_of;

// One token, transformers' steps in double: scores, + bias, group mask, top-k by full sort,
// weights from unbiased scores, renormalise, scale. Returns (expert, weight) sorted by expert.
std::vector<std::pair<int, double>> reference_route(const std::vector<float>& logits, const std::vector<float>& bias,
                                                    const RouterParams& p) {
    const int E = p.num_experts;
    std::vector<double> s(E), c(E);
    if (p.scoring == RouterScoring::kSoftmax) {
        double mx = -1e300, z = 0;
        for (float l : logits) mx = std::max(mx, double(l));
        for (int e = 0; e < E; ++e) z += std::exp(logits[e] - mx);
        for (int e = 0; e < E; ++e) s[e] = std::exp(logits[e] - mx) / z;
    } else {
        for (int e = 0; e < E; ++e) s[e] = 1.0 / (1.0 + std::exp(-double(logits[e])));
    }
    for (int e = 0; e < E; ++e) c[e] = s[e] + (bias.empty() ? 0.0 : bias[e]);
    if (p.n_group > 1) {
        const int per = E / p.n_group;
        std::vector<std::pair<double, int>> g;
        for (int i = 0; i < p.n_group; ++i) {
            std::vector<double> v(c.begin() + i * per, c.begin() + (i + 1) * per);
            std::sort(v.rbegin(), v.rend());
            g.push_back({p.group_scoring == GroupScoring::kMax ? v[0] : v[0] + v[1], -i});
        }
        std::sort(g.rbegin(), g.rend());
        std::vector<bool> keep(p.n_group, false);
        for (int i = 0; i < p.topk_group; ++i) keep[-g[i].second] = true;
        for (int e = 0; e < E; ++e)
            if (!keep[e / per]) c[e] = p.masked_score;
    }
    std::vector<std::pair<double, int>> order;
    for (int e = 0; e < E; ++e) order.push_back({c[e], -e});
    std::sort(order.rbegin(), order.rend());
    std::vector<std::pair<int, double>> out;
    double sum = 0;
    for (int j = 0; j < p.top_k; ++j) sum += s[-order[j].second];
    for (int j = 0; j < p.top_k; ++j) {
        const int e = -order[j].second;
        double w = s[e];
        if (p.renormalize) w /= sum + p.renormalize_eps;
        out.push_back({e, w * p.scaling});
    }
    std::sort(out.begin(), out.end());
    return out;
}

void expect_route_matches(const RouterParams& p, int64_t T, uint32_t seed, bool with_bias) {
    const std::vector<float> logits = random_floats(T * p.num_experts, seed, -3.0f, 3.0f);
    const std::vector<float> bias = with_bias ? random_floats(p.num_experts, seed + 1, -0.3f, 0.3f) : std::vector<float>{};
    Tensor lt = tensor_of(logits, {T, p.num_experts});
    Tensor bt = with_bias ? tensor_of(bias, {p.num_experts}) : Tensor();
    Routing r;
    ASSERT_TRUE(route(lt, with_bias ? &bt : nullptr, p, r).is_ok());
    ASSERT_EQ(r.num_tokens, T);
    for (int64_t t = 0; t < T; ++t) {
        const std::vector<float> row(logits.begin() + t * p.num_experts, logits.begin() + (t + 1) * p.num_experts);
        const auto want = reference_route(row, bias, p);
        for (int j = 0; j < p.top_k; ++j) {
            EXPECT_EQ(r.expert[t * p.top_k + j], want[j].first) << "token " << t << " choice " << j;
            EXPECT_NEAR(r.weight[t * p.top_k + j], want[j].second, 1e-6 * std::max(1.0, p.scaling * 1.0)) << "token " << t;
        }
    }
}

TEST(MoeRoute, SoftmaxTopKWithAndWithoutRenormalisation) {
    RouterParams p;
    p.num_experts = 8;
    p.top_k = 2;
    expect_route_matches(p, 33, 1, false);  // Qwen norm_topk_prob = false
    p.renormalize = true;
    expect_route_matches(p, 33, 2, false);  // Mixtral, Qwen norm_topk_prob = true
    p.num_experts = 60;
    p.top_k = 4;
    expect_route_matches(p, 17, 3, false);
}

TEST(MoeRoute, SigmoidGroupedWithCorrectionBiasAndScaling) {  // DeepSeek-V3
    RouterParams p;
    p.num_experts = 16;
    p.top_k = 4;
    p.scoring = RouterScoring::kSigmoid;
    p.n_group = 4;
    p.topk_group = 2;
    p.renormalize = true;
    p.renormalize_eps = 1e-20f;
    p.scaling = 2.5f;
    expect_route_matches(p, 40, 4, true);
    p.renormalize = false;
    expect_route_matches(p, 40, 5, true);
}

TEST(MoeRoute, SoftmaxGroupLimitedGreedy) {  // DeepSeek-V2
    RouterParams p;
    p.num_experts = 12;
    p.top_k = 3;
    p.n_group = 3;
    p.topk_group = 1;
    p.group_scoring = GroupScoring::kMax;
    p.masked_score = 0.0f;
    p.scaling = 16.0f;
    expect_route_matches(p, 25, 6, false);
}

TEST(MoeRoute, BiasChoosesButDoesNotWeigh) {
    // Sigmoid scores of logits 2, 0, 1, -1; a bias of +1 on expert 3 makes it chosen over expert 2,
    // but its weight stays its own sigmoid score.
    RouterParams p;
    p.num_experts = 4;
    p.top_k = 2;
    p.scoring = RouterScoring::kSigmoid;
    Tensor logits = tensor_of({2.0f, 0.0f, 1.0f, -1.0f}, {1, 4});
    Tensor bias = tensor_of({0.0f, 0.0f, 0.0f, 1.0f}, {4});
    Routing r;
    ASSERT_TRUE(route(logits, &bias, p, r).is_ok());
    EXPECT_EQ(r.expert, (std::vector<int32_t>{0, 3}));
    EXPECT_NEAR(r.weight[0], 1.0 / (1.0 + std::exp(-2.0)), 1e-7);
    EXPECT_NEAR(r.weight[1], 1.0 / (1.0 + std::exp(1.0)), 1e-7);
}

TEST(MoeRoute, GroupMaskDropsTheBestExpertOfAWeakGroup) {
    // Groups {0,1} and {2,3}; top-2 sums 0.9+0.0 vs 0.5+0.5: group 1 wins although expert 0 is best.
    RouterParams p;
    p.num_experts = 4;
    p.top_k = 1;
    p.scoring = RouterScoring::kSigmoid;
    p.n_group = 2;
    p.topk_group = 1;
    auto logit = [](double s) { return static_cast<float>(std::log(s / (1 - s))); };
    Tensor logits = tensor_of({logit(0.9), logit(1e-6), logit(0.5), logit(0.5)}, {1, 4});
    Routing r;
    ASSERT_TRUE(route(logits, nullptr, p, r).is_ok());
    EXPECT_EQ(r.expert[0], 2);
}

TEST(MoeRoute, BadParametersAreErrors) {
    RouterParams p;
    p.num_experts = 6;
    p.top_k = 7;
    Tensor logits = tensor_of(random_floats(6, 1), {1, 6});
    Routing r;
    EXPECT_FALSE(route(logits, nullptr, p, r).is_ok());
    p.top_k = 2;
    p.n_group = 4;  // does not divide 6
    EXPECT_FALSE(route(logits, nullptr, p, r).is_ok());
    p.n_group = 1;
    Tensor wrong = tensor_of(random_floats(5, 1), {1, 5});
    EXPECT_FALSE(route(wrong, nullptr, p, r).is_ok());
}

struct ExpertFixture {
    int64_t E, H, I;
    std::vector<float> gate_up, down;
    ExpertFixture(int64_t e, int64_t h, int64_t i, uint32_t seed) : E(e), H(h), I(i) {
        gate_up = random_floats(E * 2 * I * H, seed, -0.3f, 0.3f);
        down = random_floats(E * H * I, seed + 1, -0.3f, 0.3f);
    }
    // Experts [first, first + n) as op weights.
    ExpertWeights weights(int first, int n) const {
        ExpertWeights w;
        w.first_expert = first;
        w.gate_up = tensor_of(std::vector<float>(gate_up.begin() + first * 2 * I * H, gate_up.begin() + (first + n) * 2 * I * H),
                              {n, 2 * I, H});
        w.down = tensor_of(std::vector<float>(down.begin() + first * H * I, down.begin() + (first + n) * H * I), {n, H, I});
        return w;
    }
    // sum_j w_j * down_e(silu(gate_e x) * up_e x) in double.
    std::vector<double> reference(const float* x, const Routing& r, int64_t t) const {
        std::vector<double> out(H, 0.0);
        for (int j = 0; j < r.top_k; ++j) {
            const int64_t e = r.expert[t * r.top_k + j];
            std::vector<double> act(I);
            for (int64_t i = 0; i < I; ++i) {
                double g = 0, u = 0;
                for (int64_t h = 0; h < H; ++h) {
                    g += double(gate_up[(e * 2 * I + i) * H + h]) * x[h];
                    u += double(gate_up[(e * 2 * I + I + i) * H + h]) * x[h];
                }
                act[i] = g / (1 + std::exp(-g)) * u;
            }
            for (int64_t h = 0; h < H; ++h) {
                double y = 0;
                for (int64_t i = 0; i < I; ++i) y += double(down[(e * H + h) * I + i]) * act[i];
                out[h] += r.weight[t * r.top_k + j] * y;
            }
        }
        return out;
    }
};

Routing random_routing(int64_t T, int E, int k, uint32_t seed) {
    RouterParams p;
    p.num_experts = E;
    p.top_k = k;
    p.renormalize = true;
    Routing r;
    EXPECT_TRUE(route(tensor_of(random_floats(T * E, seed, -2, 2), {T, E}), nullptr, p, r).is_ok());
    return r;
}

TEST(MoeExperts, MatchesPerTokenReference) {
    const ExpertFixture f(8, 40, 24, 11);  // widths not multiples of 8
    const int64_t T = 19;
    const std::vector<float> x = random_floats(T * f.H, 12);
    const Routing r = random_routing(T, 8, 3, 13);
    Tensor out = Tensor::zeros(DType::kF32, {T, f.H});
    ASSERT_TRUE(moe_experts(tensor_of(x, {T, f.H}), r, f.weights(0, 8), out).is_ok());
    for (int64_t t = 0; t < T; ++t) {
        const std::vector<double> want = f.reference(x.data() + t * f.H, r, t);
        for (int64_t h = 0; h < f.H; ++h) EXPECT_NEAR(out.data<float>()[t * f.H + h], want[h], 2e-5) << t << "," << h;
    }
}

TEST(MoeExperts, TokenBitsDoNotDependOnTheBatch) {
    const ExpertFixture f(4, 64, 32, 21);
    const int64_t T = 23;
    const std::vector<float> x = random_floats(T * f.H, 22);
    const Routing r = random_routing(T, 4, 2, 23);
    Tensor all = Tensor::zeros(DType::kF32, {T, f.H});
    ASSERT_TRUE(moe_experts(tensor_of(x, {T, f.H}), r, f.weights(0, 4), all).is_ok());
    for (int64_t t : {0, 7, 22}) {
        Routing one;
        one.num_tokens = 1;
        one.top_k = r.top_k;
        one.expert.assign(r.expert.begin() + t * 2, r.expert.begin() + t * 2 + 2);
        one.weight.assign(r.weight.begin() + t * 2, r.weight.begin() + t * 2 + 2);
        Tensor alone = Tensor::zeros(DType::kF32, {1, f.H});
        ASSERT_TRUE(moe_experts(tensor_of(std::vector<float>(x.begin() + t * f.H, x.begin() + (t + 1) * f.H), {1, f.H}),
                                one, f.weights(0, 4), alone)
                        .is_ok());
        for (int64_t h = 0; h < f.H; ++h) ASSERT_EQ(alone.data<float>()[h], all.data<float>()[t * f.H + h]) << t;
    }
}

TEST(MoeExperts, ExpertSubsetsAddUpToTheWhole) {
    const ExpertFixture f(6, 32, 16, 31);
    const int64_t T = 9;
    const std::vector<float> x = random_floats(T * f.H, 32);
    const Routing r = random_routing(T, 6, 2, 33);
    Tensor whole = Tensor::zeros(DType::kF32, {T, f.H}), lo = whole, hi = Tensor::zeros(DType::kF32, {T, f.H});
    lo = Tensor::zeros(DType::kF32, {T, f.H});
    ASSERT_TRUE(moe_experts(tensor_of(x, {T, f.H}), r, f.weights(0, 6), whole).is_ok());
    ASSERT_TRUE(moe_experts(tensor_of(x, {T, f.H}), r, f.weights(0, 3), lo).is_ok());
    ASSERT_TRUE(moe_experts(tensor_of(x, {T, f.H}), r, f.weights(3, 3), hi).is_ok());
    for (int64_t i = 0; i < T * f.H; ++i)
        EXPECT_NEAR(lo.data<float>()[i] + hi.data<float>()[i], whole.data<float>()[i], 1e-6);
}

TEST(MoeExperts, ShapeMismatchesAreErrors) {
    const ExpertFixture f(2, 16, 8, 41);
    const Routing r = random_routing(3, 2, 1, 42);
    Tensor x = tensor_of(random_floats(3 * 16, 43), {3, 16});
    Tensor bad_out = Tensor::zeros(DType::kF32, {3, 8});
    EXPECT_FALSE(moe_experts(x, r, f.weights(0, 2), bad_out).is_ok());
    Tensor out = Tensor::zeros(DType::kF32, {2, 16});
    EXPECT_FALSE(moe_experts(tensor_of(random_floats(2 * 16, 44), {2, 16}), r, f.weights(0, 2), out).is_ok());
}

TEST(MoeSharedExpert, AddsSigmoidGatedOrPlainRows) {
    Tensor out = tensor_of({1, 2, 3, 4}, {2, 2});
    const Tensor y = tensor_of({10, 20, 30, 40}, {2, 2});
    const Tensor gate = tensor_of({0.0f, std::log(3.0f)}, {2, 1});  // sigmoid: 0.5, 0.75
    ASSERT_TRUE(add_shared_expert(out, y, &gate).is_ok());
    const std::vector<float> gated = {6, 12, 25.5f, 34}, plain = {16, 32, 55.5f, 74};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(out.data<float>()[i], gated[i], 1e-5) << i;
    ASSERT_TRUE(add_shared_expert(out, y, nullptr).is_ok());
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(out.data<float>()[i], plain[i], 1e-5) << i;
    const Tensor bad = tensor_of({1, 2, 3}, {3, 1});
    EXPECT_FALSE(add_shared_expert(out, y, &bad).is_ok());
}

}  // namespace
}  // namespace kite::ops
