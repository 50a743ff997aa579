// Routing and attention options the shared references do not exercise, each against a plain
// double-precision forward pass written from transformers' modeling code (moe_reference_forward.h)
// on tiny random checkpoints written here: Qwen2-MoE (sigmoid-gated shared expert, mlp_only_layers,
// decoder_sparse_step, norm_topk_prob both ways, q/k/v biases, alternating sliding window, stacked
// experts) and DeepSeek-V2/V3 (q_lora_rank null or set, rope_interleave on and off, grouped top-k,
// group_limited_greedy, norm_topk_prob off, routed_scaling_factor, no shared expert,
// first_k_dense_replace, attention_bias, per-expert or stacked weights).
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "model/model.h"
#include "model_test_util.h"
#include "moe_reference_forward.h"

namespace kite {
namespace {

using namespace kite::testing;

constexpr int64_t kVocab = 64;
const std::vector<int32_t> kPrompt = {3, 17, 42, 5, 9, 63, 0, 28, 11, 11, 40, 7, 2};

std::string temp_dir(const std::string& name) {
    const std::string d = ::testing::TempDir() + "/kite_moe_opts_" + name;
    std::filesystem::create_directories(d);
    return d;
}

// Per token top-k of transformers' routers: (expert, weight) pairs.
struct RouteOpts {
    bool sigmoid = false, renorm = false, group_max = false;
    int n_group = 1, topk_group = 1, top_k = 2;
    double masked = -INFINITY, scaling = 1.0, eps = 0.0;
};

std::vector<std::pair<int, double>> route(const Vec& logits, const Vec* bias, const RouteOpts& o) {
    const int E = static_cast<int>(logits.size());
    Vec s(E), c(E);
    if (o.sigmoid) {
        for (int e = 0; e < E; ++e) s[e] = 1.0 / (1.0 + std::exp(-logits[e]));
    } else {
        const double mx = *std::max_element(logits.begin(), logits.end());
        double z = 0;
        for (int e = 0; e < E; ++e) z += (s[e] = std::exp(logits[e] - mx));
        for (double& v : s) v /= z;
    }
    for (int e = 0; e < E; ++e) c[e] = s[e] + (bias ? (*bias)[e] : 0.0);
    if (o.n_group > 1) {
        const int per = E / o.n_group;
        std::vector<std::pair<double, int>> g;
        for (int i = 0; i < o.n_group; ++i) {
            Vec v(c.begin() + i * per, c.begin() + (i + 1) * per);
            std::sort(v.rbegin(), v.rend());
            g.push_back({o.group_max ? v[0] : v[0] + v[1], -i});
        }
        std::sort(g.rbegin(), g.rend());
        std::vector<bool> keep(o.n_group, false);
        for (int i = 0; i < o.topk_group; ++i) keep[-g[i].second] = true;
        for (int e = 0; e < E; ++e)
            if (!keep[e / per]) c[e] = o.masked;
    }
    std::vector<int> idx(E);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return c[a] > c[b]; });
    double sum = 0;
    for (int j = 0; j < o.top_k; ++j) sum += s[idx[j]];
    std::vector<std::pair<int, double>> out;
    for (int j = 0; j < o.top_k; ++j) {
        double w = s[idx[j]];
        if (o.renorm) w /= sum + o.eps;
        out.push_back({idx[j], w * o.scaling});
    }
    return out;
}

// One routed expert, stacked ([E, 2I, H] / [E, H, I]) or per-expert modules.
Vec expert(const TinyCheckpoint& ck, const std::string& p, int e, int64_t H, int64_t I, const Vec& x) {
    if (ck.has(p + "experts.gate_up_proj")) {
        const Vec& gu = ck.at(p + "experts.gate_up_proj");
        const Vec& dn = ck.at(p + "experts.down_proj");
        const Vec gate(gu.begin() + e * 2 * I * H, gu.begin() + (e * 2 * I + I) * H);
        const Vec up(gu.begin() + (e * 2 * I + I) * H, gu.begin() + (e + 1) * 2 * I * H);
        const Vec down(dn.begin() + e * H * I, dn.begin() + (e + 1) * H * I);
        return swiglu(gate, up, down, x);
    }
    const std::string m = p + "experts." + std::to_string(e) + ".";
    return swiglu(ck.at(m + "gate_proj.weight"), ck.at(m + "up_proj.weight"), ck.at(m + "down_proj.weight"), x);
}

void add_experts(TinyCheckpoint& ck, const std::string& p, int E, int64_t H, int64_t I, bool stacked) {
    if (stacked) {
        ck.add(p + "experts.gate_up_proj", {E, 2 * I, H});
        ck.add(p + "experts.down_proj", {E, H, I});
        return;
    }
    for (int e = 0; e < E; ++e) {
        const std::string m = p + "experts." + std::to_string(e) + ".";
        ck.add(m + "gate_proj.weight", {I, H});
        ck.add(m + "up_proj.weight", {I, H});
        ck.add(m + "down_proj.weight", {H, I});
    }
}

void add_mlp(TinyCheckpoint& ck, const std::string& p, int64_t H, int64_t I) {
    ck.add(p + "gate_proj.weight", {I, H});
    ck.add(p + "up_proj.weight", {I, H});
    ck.add(p + "down_proj.weight", {H, I});
}

Vec mlp(const TinyCheckpoint& ck, const std::string& p, const Vec& x) {
    return swiglu(ck.at(p + "gate_proj.weight"), ck.at(p + "up_proj.weight"), ck.at(p + "down_proj.weight"), x);
}

// kite's logits for every prompt position, from a prefill in two chunks (7 tokens, then the rest).
std::vector<std::vector<float>> kite_logits(const std::string& dir) {
    auto model = load_model(dir);
    EXPECT_TRUE(model.ok()) << model.status().message();
    if (!model.ok()) return {};
    auto kv = KvCache::create((*model)->kv_shape(8, 4));
    EXPECT_TRUE(kv.ok());
    TestSequence seq;
    int next = 0;
    auto a = run_step(**model, *kv, {&seq}, {{kPrompt.begin(), kPrompt.begin() + 7}}, true, &next);
    auto b = run_step(**model, *kv, {&seq}, {{kPrompt.begin() + 7, kPrompt.end()}}, true, &next);
    EXPECT_TRUE(a.ok() && b.ok()) << (a.ok() ? b.status().message() : a.status().message());
    if (!a.ok() || !b.ok()) return {};
    a->insert(a->end(), b->begin(), b->end());
    return *a;
}

void expect_logits_match(const std::vector<std::vector<float>>& got, const std::vector<Vec>& want, const char* what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double worst = 0;
    for (size_t t = 0; t < want.size(); ++t) {
        double top = 1;
        for (double v : want[t]) top = std::max(top, std::abs(v));
        for (size_t v = 0; v < want[t].size(); ++v) worst = std::max(worst, std::abs(got[t][v] - want[t][v]) / top);
    }
    std::printf("%s: max |logit diff| / max(1, |largest logit|) = %.3g\n", what, worst);
    EXPECT_LT(worst, 1e-4) << what;
}

// ---------------------------------------------------------------- Qwen2-MoE

struct Qwen2MoeOpts {
    bool norm_topk = false;
    int sparse_step = 1;
    std::vector<int> mlp_only = {1};
};

TinyCheckpoint qwen2_moe(const Qwen2MoeOpts& o) {
    const int64_t H = 48, nh = 4, nkv = 2, D = 12, I = 40, MI = 24, SI = 32;
    const int E = 6, L = 4;
    TinyCheckpoint ck;
    ck.config = {{"architectures", {"Qwen2MoeForCausalLM"}}, {"model_type", "qwen2_moe"}, {"vocab_size", kVocab},
                 {"hidden_size", H}, {"intermediate_size", I}, {"moe_intermediate_size", MI},
                 {"shared_expert_intermediate_size", SI}, {"num_hidden_layers", L}, {"num_attention_heads", nh},
                 {"num_key_value_heads", nkv}, {"num_experts", E}, {"num_experts_per_tok", 2},
                 {"norm_topk_prob", o.norm_topk}, {"decoder_sparse_step", o.sparse_step}, {"mlp_only_layers", o.mlp_only},
                 {"use_sliding_window", true}, {"sliding_window", 4}, {"max_window_layers", 3}, {"rms_norm_eps", 1e-6},
                 {"rope_theta", 10000.0}, {"max_position_embeddings", 64}, {"tie_word_embeddings", false}};
    ck.add("model.embed_tokens.weight", {kVocab, H}, 1.0);
    ck.add("lm_head.weight", {kVocab, H});
    ck.norm("model.norm.weight", H);
    for (int l = 0; l < L; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        ck.norm(p + "input_layernorm.weight", H);
        ck.norm(p + "post_attention_layernorm.weight", H);
        const std::string a = p + "self_attn.";
        ck.add(a + "q_proj.weight", {nh * D, H});
        ck.add(a + "q_proj.bias", {nh * D});
        ck.add(a + "k_proj.weight", {nkv * D, H});
        ck.add(a + "k_proj.bias", {nkv * D});
        ck.add(a + "v_proj.weight", {nkv * D, H});
        ck.add(a + "v_proj.bias", {nkv * D});
        ck.add(a + "o_proj.weight", {H, nh * D});
        const bool sparse = std::find(o.mlp_only.begin(), o.mlp_only.end(), l) == o.mlp_only.end() &&
                            (l + 1) % o.sparse_step == 0;
        const std::string m = p + "mlp.";
        if (!sparse) {
            add_mlp(ck, m, H, I);
            continue;
        }
        ck.add(m + "gate.weight", {E, H}, 1.0);
        add_experts(ck, m, E, H, MI, /*stacked=*/true);
        add_mlp(ck, m + "shared_expert.", H, SI);
        ck.add(m + "shared_expert_gate.weight", {1, H});
    }
    return ck;
}

std::vector<Vec> qwen2_moe_reference(const TinyCheckpoint& ck, const Qwen2MoeOpts& o) {
    const int64_t H = 48, nh = 4, nkv = 2, D = 12, MI = 24;
    const int L = 4;
    const size_t T = kPrompt.size();
    std::vector<Vec> h(T);
    for (size_t t = 0; t < T; ++t) {
        const Vec& emb = ck.at("model.embed_tokens.weight");
        h[t] = Vec(emb.begin() + kPrompt[t] * H, emb.begin() + (kPrompt[t] + 1) * H);
    }
    RouteOpts ro;
    ro.renorm = o.norm_topk;
    for (int l = 0; l < L; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".", a = p + "self_attn.";
        const size_t window = (l % 2 == 0 && l < 3) ? 4 : 0;  // layer_types: sliding on even layers < max_window_layers
        std::vector<Vec> xs(T);
        std::vector<std::vector<Vec>> K(nkv, std::vector<Vec>(T)), V(nkv, std::vector<Vec>(T));
        std::vector<Vec> Q(T);
        for (size_t t = 0; t < T; ++t) {
            xs[t] = rms_norm(h[t], ck.at(p + "input_layernorm.weight"), 1e-6);
            Q[t] = matvec(ck.at(a + "q_proj.weight"), xs[t], &ck.at(a + "q_proj.bias"));
            Vec k = matvec(ck.at(a + "k_proj.weight"), xs[t], &ck.at(a + "k_proj.bias"));
            Vec v = matvec(ck.at(a + "v_proj.weight"), xs[t], &ck.at(a + "v_proj.bias"));
            for (int64_t i = 0; i < nh; ++i) rotate(Q[t], i * D, D, double(t), 10000.0, false);
            for (int64_t i = 0; i < nkv; ++i) {
                rotate(k, i * D, D, double(t), 10000.0, false);
                K[i][t] = Vec(k.begin() + i * D, k.begin() + (i + 1) * D);
                V[i][t] = Vec(v.begin() + i * D, v.begin() + (i + 1) * D);
            }
        }
        for (size_t t = 0; t < T; ++t) {
            Vec cat;
            for (int64_t i = 0; i < nh; ++i) {
                const Vec q(Q[t].begin() + i * D, Q[t].begin() + (i + 1) * D);
                const size_t lo = window && t + 1 > window ? t + 1 - window : 0;
                const Vec oh = attend(q, K[i / (nh / nkv)], V[i / (nh / nkv)], lo, t, 1.0 / std::sqrt(double(D)));
                cat.insert(cat.end(), oh.begin(), oh.end());
            }
            const Vec out = matvec(ck.at(a + "o_proj.weight"), cat);
            for (int64_t i = 0; i < H; ++i) h[t][i] += out[i];
        }
        const std::string m = p + "mlp.";
        for (size_t t = 0; t < T; ++t) {
            const Vec x = rms_norm(h[t], ck.at(p + "post_attention_layernorm.weight"), 1e-6);
            Vec y(H, 0.0);
            if (!ck.has(m + "gate.weight")) {
                y = mlp(ck, m, x);
            } else {
                for (auto [e, w] : route(matvec(ck.at(m + "gate.weight"), x), nullptr, ro)) {
                    const Vec ye = expert(ck, m, e, H, MI, x);
                    for (int64_t i = 0; i < H; ++i) y[i] += w * ye[i];
                }
                const Vec s = mlp(ck, m + "shared_expert.", x);
                const double g = 1.0 / (1.0 + std::exp(-matvec(ck.at(m + "shared_expert_gate.weight"), x)[0]));
                for (int64_t i = 0; i < H; ++i) y[i] += g * s[i];
            }
            for (int64_t i = 0; i < H; ++i) h[t][i] += y[i];
        }
    }
    std::vector<Vec> logits;
    for (size_t t = 0; t < T; ++t) logits.push_back(matvec(ck.at("lm_head.weight"), rms_norm(h[t], ck.at("model.norm.weight"), 1e-6)));
    return logits;
}

TEST(MoeOptions, Qwen2MoeSharedExpertGateAndDenseLayers) {
    for (const Qwen2MoeOpts& o : {Qwen2MoeOpts{false, 1, {1}}, Qwen2MoeOpts{true, 2, {}}}) {
        const TinyCheckpoint ck = qwen2_moe(o);
        const std::string dir = temp_dir("qwen2_moe_" + std::to_string(o.sparse_step));
        ck.write(dir);
        expect_logits_match(kite_logits(dir), qwen2_moe_reference(ck, o),
                            o.norm_topk ? "qwen2_moe (norm_topk_prob, decoder_sparse_step 2)"
                                        : "qwen2_moe (mlp_only_layers [1])");
    }
}

// ---------------------------------------------------------------- DeepSeek-V2 / V3

struct DeepseekOpts {
    std::string name;
    bool v3 = true;
    int64_t q_lora = 16;  // 0: q_lora_rank null
    bool interleave = true;
    bool norm_topk = true;
    int n_group = 2, topk_group = 1;
    std::string topk_method = "greedy";  // V2
    int n_shared = 1, first_dense = 1;
    double scaling = 2.5;
    bool stacked = false, bias = false;
};

constexpr int64_t kDsH = 48, kDsHeads = 3, kDsL = 20, kDsR = 6, kDsNope = 10, kDsV = 12, kDsI = 40, kDsMI = 24;
constexpr int kDsE = 8, kDsLayers = 3;

TinyCheckpoint deepseek(const DeepseekOpts& o) {
    const int64_t H = kDsH, nh = kDsHeads, qd = kDsNope + kDsR;
    TinyCheckpoint ck;
    ck.config = {{"architectures", {o.v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"}},
                 {"model_type", o.v3 ? "deepseek_v3" : "deepseek_v2"}, {"vocab_size", kVocab}, {"hidden_size", H},
                 {"intermediate_size", kDsI}, {"moe_intermediate_size", kDsMI}, {"num_hidden_layers", kDsLayers},
                 {"num_attention_heads", nh}, {"num_key_value_heads", nh}, {"kv_lora_rank", kDsL},
                 {"qk_rope_head_dim", kDsR}, {"qk_nope_head_dim", kDsNope}, {"v_head_dim", kDsV},
                 {"n_routed_experts", kDsE}, {"num_experts_per_tok", 3}, {"n_shared_experts", o.n_shared},
                 {"first_k_dense_replace", o.first_dense}, {"n_group", o.n_group}, {"topk_group", o.topk_group},
                 {"norm_topk_prob", o.norm_topk}, {"routed_scaling_factor", o.scaling}, {"rope_interleave", o.interleave},
                 {"topk_method", o.topk_method}, {"attention_bias", o.bias}, {"rms_norm_eps", 1e-6},
                 {"rope_theta", 10000.0}, {"max_position_embeddings", 64}, {"tie_word_embeddings", false}};
    ck.config["q_lora_rank"] = o.q_lora > 0 ? nlohmann::json(o.q_lora) : nlohmann::json(nullptr);
    ck.add("model.embed_tokens.weight", {kVocab, H}, 1.0);
    ck.add("lm_head.weight", {kVocab, H});
    ck.norm("model.norm.weight", H);
    for (int l = 0; l < kDsLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".", a = p + "self_attn.";
        ck.norm(p + "input_layernorm.weight", H);
        ck.norm(p + "post_attention_layernorm.weight", H);
        if (o.q_lora > 0) {
            ck.add(a + "q_a_proj.weight", {o.q_lora, H});
            if (o.bias) ck.add(a + "q_a_proj.bias", {o.q_lora});
            ck.norm(a + "q_a_layernorm.weight", o.q_lora);
            ck.add(a + "q_b_proj.weight", {nh * qd, o.q_lora});
        } else {
            ck.add(a + "q_proj.weight", {nh * qd, H});
        }
        ck.add(a + "kv_a_proj_with_mqa.weight", {kDsL + kDsR, H});
        if (o.bias) ck.add(a + "kv_a_proj_with_mqa.bias", {kDsL + kDsR});
        ck.norm(a + "kv_a_layernorm.weight", kDsL);
        ck.add(a + "kv_b_proj.weight", {nh * (kDsNope + kDsV), kDsL});
        ck.add(a + "o_proj.weight", {H, nh * kDsV});
        if (o.bias) ck.add(a + "o_proj.bias", {H});
        const std::string m = p + "mlp.";
        if (l < o.first_dense) {
            add_mlp(ck, m, H, kDsI);
            continue;
        }
        ck.add(m + "gate.weight", {kDsE, H}, 1.0);
        if (o.v3) ck.add(m + "gate.e_score_correction_bias", {kDsE}, 0.2);
        add_experts(ck, m, kDsE, H, kDsMI, o.stacked);
        if (o.n_shared > 0) add_mlp(ck, m + "shared_experts.", H, kDsMI * o.n_shared);
    }
    return ck;
}

std::vector<Vec> deepseek_reference(const TinyCheckpoint& ck, const DeepseekOpts& o) {
    const int64_t H = kDsH, nh = kDsHeads, qd = kDsNope + kDsR;
    const size_t T = kPrompt.size();
    const double scale = 1.0 / std::sqrt(double(qd));
    std::vector<Vec> h(T);
    for (size_t t = 0; t < T; ++t) {
        const Vec& emb = ck.at("model.embed_tokens.weight");
        h[t] = Vec(emb.begin() + kPrompt[t] * H, emb.begin() + (kPrompt[t] + 1) * H);
    }
    RouteOpts ro;
    ro.top_k = 3;
    ro.scaling = o.scaling;
    if (o.v3) {
        ro.sigmoid = true;
        ro.renorm = o.norm_topk;
        ro.eps = 1e-20;
        ro.n_group = o.n_group;
        ro.topk_group = o.topk_group;
    } else if (o.topk_method == "group_limited_greedy") {
        ro.n_group = o.n_group;
        ro.topk_group = o.topk_group;
        ro.group_max = true;
        ro.masked = 0.0;
    }
    auto opt = [&](const std::string& n) { return ck.has(n) ? &ck.at(n) : nullptr; };
    for (int l = 0; l < kDsLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".", a = p + "self_attn.";
        std::vector<std::vector<Vec>> K(nh, std::vector<Vec>(T)), V(nh, std::vector<Vec>(T));
        std::vector<Vec> Q(T);
        for (size_t t = 0; t < T; ++t) {
            const Vec x = rms_norm(h[t], ck.at(p + "input_layernorm.weight"), 1e-6);
            Q[t] = o.q_lora > 0 ? matvec(ck.at(a + "q_b_proj.weight"),
                                         rms_norm(matvec(ck.at(a + "q_a_proj.weight"), x, opt(a + "q_a_proj.bias")),
                                                  ck.at(a + "q_a_layernorm.weight"), 1e-6))
                                : matvec(ck.at(a + "q_proj.weight"), x);
            const Vec kv = matvec(ck.at(a + "kv_a_proj_with_mqa.weight"), x, opt(a + "kv_a_proj_with_mqa.bias"));
            const Vec c = rms_norm(Vec(kv.begin(), kv.begin() + kDsL), ck.at(a + "kv_a_layernorm.weight"), 1e-6);
            Vec kpe(kv.begin() + kDsL, kv.end());
            rotate(kpe, 0, kDsR, double(t), 10000.0, o.interleave);
            const Vec kvb = matvec(ck.at(a + "kv_b_proj.weight"), c);
            for (int64_t i = 0; i < nh; ++i) {
                rotate(Q[t], i * qd + kDsNope, kDsR, double(t), 10000.0, o.interleave);
                const auto* row = kvb.data() + i * (kDsNope + kDsV);
                K[i][t] = Vec(row, row + kDsNope);
                K[i][t].insert(K[i][t].end(), kpe.begin(), kpe.end());
                V[i][t] = Vec(row + kDsNope, row + kDsNope + kDsV);
            }
        }
        for (size_t t = 0; t < T; ++t) {
            Vec cat;
            for (int64_t i = 0; i < nh; ++i) {
                const Vec oh = attend(Vec(Q[t].begin() + i * qd, Q[t].begin() + (i + 1) * qd), K[i], V[i], 0, t, scale);
                cat.insert(cat.end(), oh.begin(), oh.end());
            }
            const Vec out = matvec(ck.at(a + "o_proj.weight"), cat, opt(a + "o_proj.bias"));
            for (int64_t i = 0; i < H; ++i) h[t][i] += out[i];
        }
        const std::string m = p + "mlp.";
        for (size_t t = 0; t < T; ++t) {
            const Vec x = rms_norm(h[t], ck.at(p + "post_attention_layernorm.weight"), 1e-6);
            Vec y(H, 0.0);
            if (l < o.first_dense) {
                y = mlp(ck, m, x);
            } else {
                for (auto [e, w] : route(matvec(ck.at(m + "gate.weight"), x), opt(m + "gate.e_score_correction_bias"), ro)) {
                    const Vec ye = expert(ck, m, e, H, kDsMI, x);
                    for (int64_t i = 0; i < H; ++i) y[i] += w * ye[i];
                }
                if (o.n_shared > 0) {
                    const Vec s = mlp(ck, m + "shared_experts.", x);
                    for (int64_t i = 0; i < H; ++i) y[i] += s[i];
                }
            }
            for (int64_t i = 0; i < H; ++i) h[t][i] += y[i];
        }
    }
    std::vector<Vec> logits;
    for (size_t t = 0; t < T; ++t) logits.push_back(matvec(ck.at("lm_head.weight"), rms_norm(h[t], ck.at("model.norm.weight"), 1e-6)));
    return logits;
}

class DeepseekOptions : public ::testing::TestWithParam<DeepseekOpts> {};

TEST_P(DeepseekOptions, MatchExpandedHeadReference) {
    const DeepseekOpts& o = GetParam();
    const TinyCheckpoint ck = deepseek(o);
    const std::string dir = temp_dir(o.name);
    ck.write(dir);
    expect_logits_match(kite_logits(dir), deepseek_reference(ck, o), o.name.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Variants, DeepseekOptions,
    ::testing::Values(
        // V3: q_lora, interleaved rope, 2 groups (top 1), renormalised, scaled, shared expert, one dense layer.
        DeepseekOpts{"v3_default"},
        // V3: no q_lora (q_proj), halves rope, no renormalisation, 4 groups (top 2), stacked experts, no
        // shared expert, no dense layer, attention biases.
        DeepseekOpts{"v3_q_proj_halves", true, 0, false, false, 4, 2, "greedy", 0, 0, 1.0, true, true},
        // V2: softmax greedy top-k, complex (interleaved) rope, q_proj, 2 shared experts.
        DeepseekOpts{"v2_greedy", false, 0, true, false, 1, 1, "greedy", 2, 1, 1.0},
        // V2: group_limited_greedy (groups by max, others masked to 0), scaled, q_lora.
        DeepseekOpts{"v2_group_limited", false, 16, true, true, 4, 2, "group_limited_greedy", 1, 2, 16.0}),
    [](const ::testing::TestParamInfo<DeepseekOpts>& i) { return i.param.name; });

}  // namespace
}  // namespace kite
