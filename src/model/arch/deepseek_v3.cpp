// DeepseekV3ForCausalLM and DeepseekV2ForCausalLM: multi-head latent attention (blocks/mla.h) on
// every layer; a dense MLP on the first first_k_dense_replace layers, then MoE layers of
// n_routed_experts experts plus n_shared_experts shared ones. Routing as transformers 5 computes it:
//   V3: sigmoid scores, + e_score_correction_bias to choose, groups scored by their top-two sum,
//       top topk_group groups, top-k, norm_topk_prob renormalises (+1e-20), x routed_scaling_factor;
//   V2: softmax scores, topk_method "greedy" or "group_limited_greedy" (groups by their max, the
//       rest masked to 0), x routed_scaling_factor, never renormalised (norm_topk_prob unused).
// Rotary: qk_rope_head_dim dims; V3 with rope_interleave (default) and V2 (complex rotary) pair dims
// (2i, 2i+1). Under yarn with mscale_all_dim the softmax scale gains mscale^2.
#include <cmath>

#include <nlohmann/json.hpp>

#include "model/blocks/llama_layout.h"
#include "model/blocks/mla.h"
#include "model/blocks/moe.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

namespace {

struct DeepseekFields {
    int64_t kv_lora_rank = 512, q_lora_rank = 1536, nope = 128, rope = 64, v = 128;
    int num_experts = 256, top_k = 8, n_shared = 1, first_dense = 3, n_group = 8, topk_group = 4;
    int64_t moe_intermediate = 2048;
    bool norm_topk_prob = true, rope_interleave = true;
    float routed_scaling_factor = 2.5f;
    std::string topk_method = "noaux_tc";
};

// transformers' DeepseekV2Config defaults where they differ from V3's.
DeepseekFields v2_defaults() {
    DeepseekFields f;
    f.num_experts = 64;
    f.top_k = 0;  // None in transformers: a V2 config must set it
    f.n_shared = 2;
    f.first_dense = 0;
    f.n_group = 1;
    f.topk_group = 1;
    f.moe_intermediate = 1407;
    f.norm_topk_prob = false;
    f.routed_scaling_factor = 1.0f;
    f.topk_method = "greedy";
    return f;
}

Status read_fields(const nlohmann::json& j, const std::string& src, DeepseekFields& f) {
    using config::read_int;
    KITE_RETURN_IF_ERROR(read_int(j, {"kv_lora_rank"}, src, f.kv_lora_rank, false, 1));
    if (auto it = j.find("q_lora_rank"); it != j.end() && it->is_null()) f.q_lora_rank = 0;  // null: q_proj
    KITE_RETURN_IF_ERROR(read_int(j, {"q_lora_rank"}, src, f.q_lora_rank, false, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"qk_nope_head_dim"}, src, f.nope, false, 0));
    KITE_RETURN_IF_ERROR(read_int(j, {"qk_rope_head_dim"}, src, f.rope, false, 2));
    KITE_RETURN_IF_ERROR(read_int(j, {"v_head_dim"}, src, f.v, false, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"n_routed_experts"}, src, f.num_experts, false, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"num_experts_per_tok"}, src, f.top_k, false, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"n_shared_experts"}, src, f.n_shared, false, 0));
    KITE_RETURN_IF_ERROR(read_int(j, {"first_k_dense_replace"}, src, f.first_dense, false, 0));
    KITE_RETURN_IF_ERROR(read_int(j, {"n_group"}, src, f.n_group, false, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"topk_group"}, src, f.topk_group, false, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"moe_intermediate_size"}, src, f.moe_intermediate, false, 1));
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"norm_topk_prob"}, src, f.norm_topk_prob));
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"rope_interleave"}, src, f.rope_interleave));
    KITE_RETURN_IF_ERROR(config::read_float(j, {"routed_scaling_factor"}, src, f.routed_scaling_factor));
    KITE_RETURN_IF_ERROR(config::read_string(j, {"topk_method"}, src, f.topk_method));
    if (f.rope % 2 != 0) return invalid_argument(src + ": qk_rope_head_dim must be even");
    if (f.top_k <= 0 || f.top_k > f.num_experts)
        return invalid_argument(src + ": num_experts_per_tok = " + std::to_string(f.top_k) + " must be in [1, " +
                                std::to_string(f.num_experts) + " routed experts]");
    return Status::ok();
}

// yarn_get_mscale of transformers' modeling_rope_utils.
double yarn_mscale(double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src, bool v3) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    DeepseekFields f = v3 ? DeepseekFields{} : v2_defaults();
    KITE_RETURN_IF_ERROR(read_fields(j, src, f));
    if (!v3) f.rope_interleave = true;  // V2's rotary multiplies (2i, 2i+1) pairs as complex numbers
    const ModelConfig dense = c;  // dense MLP layers: intermediate_size, mlp_bias
    // The cache holds one latent row per token: kv_lora_rank + qk_rope_head_dim values.
    c.num_kv_heads = 1;
    c.head_dim = static_cast<int>(f.kv_lora_rank + f.rope);
    c.kv_pools_per_layer = 1;
    DecoderSpec d = llama_layout(dense);
    d.config = c;
    RopeSpec rope = RopeSpec::from_config(dense);
    rope.rot_dim = static_cast<int>(f.rope);
    d.rope = {rope};
    float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(f.nope + f.rope)));
    const RopeScaling& rs = c.rope_scaling;
    if (rs.type != RopeScaling::Type::kNone && rs.mscale_all_dim != 0) {
        const double m = yarn_mscale(rs.factor, rs.mscale_all_dim);
        scale = static_cast<float>(scale * m * m);
    }
    ops::RouterParams router;
    router.num_experts = f.num_experts;
    router.top_k = f.top_k;
    router.scaling = f.routed_scaling_factor;
    if (v3) {
        router.scoring = ops::RouterScoring::kSigmoid;
        router.n_group = f.n_group;
        router.topk_group = f.topk_group;
        router.group_scoring = ops::GroupScoring::kTop2Sum;
        router.masked_score = -INFINITY;
        router.renormalize = f.norm_topk_prob;
        router.renormalize_eps = 1e-20f;
    } else if (f.topk_method == "group_limited_greedy") {
        router.n_group = f.n_group;
        router.topk_group = f.topk_group;
        router.group_scoring = ops::GroupScoring::kMax;
        router.masked_score = 0.0f;
    } else if (f.topk_method != "greedy") {
        return unimplemented(src + ": topk_method '" + f.topk_method +
                             "' is not supported for DeepseekV2 (expected greedy or group_limited_greedy)");
    }
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = layer_prefix(l);
        MlaSpec a;
        a.prefix = p + "self_attn.";
        a.hidden = c.hidden_size;
        a.q_lora_rank = f.q_lora_rank;
        a.dims = ops::MlaDims{c.num_heads, f.kv_lora_rank, f.rope, f.nope, f.v};
        a.bias = c.attention_bias;
        a.interleaved_rope = f.rope_interleave;
        a.scale = scale;
        d.layers[l].make_mixer = [a](WeightLoader& w) { return MlaBlock::load(a, w); };
        if (l < f.first_dense) continue;  // llama_layout's dense MLP (model.layers.N.mlp.*_proj)
        MoeSpec m;
        m.hidden = c.hidden_size;
        m.act = c.hidden_act;
        m.expert_intermediate = f.moe_intermediate;
        m.router = router;
        m.router_weight = {p + "mlp.gate.weight"};
        if (v3) m.correction_bias = p + "mlp.gate.e_score_correction_bias";
        m.experts.prefixes = {p + "mlp.experts."};
        if (f.n_shared > 0) {
            const std::string s = p + "mlp.shared_experts.";
            const int64_t I = f.moe_intermediate * f.n_shared;
            m.shared.up = LinearSpec::of({s + "gate_proj", s + "up_proj"}, {I, I}, c.hidden_size, c.mlp_bias);
            m.shared.down = LinearSpec::of({s + "down_proj"}, {c.hidden_size}, I, c.mlp_bias);
            m.shared.act = c.hidden_act;
        }
        d.layers[l].make_ffn = [m](WeightLoader& w) { return MoeBlock::load(m, w); };
    }
    return d;
}

Result<DecoderSpec> describe_v3(const nlohmann::json& j, const std::string& src) { return describe(j, src, true); }
Result<DecoderSpec> describe_v2(const nlohmann::json& j, const std::string& src) { return describe(j, src, false); }

}  // namespace

extern const ArchDef kDeepseekV3Arch{"DeepseekV3ForCausalLM", "deepseek_v3", &describe_v3, nullptr};
extern const ArchDef kDeepseekV2Arch{"DeepseekV2ForCausalLM", "deepseek_v2", &describe_v2, nullptr};

}  // namespace kite
