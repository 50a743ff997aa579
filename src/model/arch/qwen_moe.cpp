// Qwen2MoeForCausalLM and Qwen3MoeForCausalLM: Qwen2 / Qwen3 attention with sparse MoE layers.
// A layer is sparse when it is not in mlp_only_layers, num_experts > 0 and (layer + 1) is a
// multiple of decoder_sparse_step; dense layers keep an intermediate_size MLP. Router: softmax,
// top num_experts_per_tok, renormalised only with norm_topk_prob. Qwen2-MoE adds a shared expert
// (shared_expert_intermediate_size) scaled by sigmoid(shared_expert_gate(x)).
#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/blocks/moe.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

namespace {

struct QwenMoeFields {
    int num_experts = 0, top_k = 0, sparse_step = 1;
    int64_t moe_intermediate = 0, shared_intermediate = 0;
    bool norm_topk_prob = false;
    std::vector<int> mlp_only_layers;
};

Status read_moe_fields(const nlohmann::json& j, const std::string& src, QwenMoeFields& f) {
    KITE_RETURN_IF_ERROR(config::read_int(j, {"num_experts"}, src, f.num_experts, false, 0));
    KITE_RETURN_IF_ERROR(config::read_int(j, {"num_experts_per_tok"}, src, f.top_k, false, 1));
    KITE_RETURN_IF_ERROR(config::read_int(j, {"decoder_sparse_step"}, src, f.sparse_step, false, 1));
    KITE_RETURN_IF_ERROR(config::read_int(j, {"moe_intermediate_size"}, src, f.moe_intermediate, false, 1));
    KITE_RETURN_IF_ERROR(config::read_int(j, {"shared_expert_intermediate_size"}, src, f.shared_intermediate, false, 0));
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"norm_topk_prob"}, src, f.norm_topk_prob));
    KITE_RETURN_IF_ERROR(config::read_ids(j, {"mlp_only_layers"}, src, f.mlp_only_layers));
    if (f.num_experts > 0 && f.top_k > f.num_experts)
        return invalid_argument(src + ": num_experts_per_tok = " + std::to_string(f.top_k) + " exceeds num_experts = " +
                                std::to_string(f.num_experts));
    return Status::ok();
}

// Puts the MoE block on the sparse layers; `shared` adds Qwen2-MoE's gated shared expert.
void add_moe_layers(const ModelConfig& c, const QwenMoeFields& f, bool shared, DecoderSpec& d) {
    for (int l = 0; l < c.num_layers; ++l) {
        const bool mlp_only = std::find(f.mlp_only_layers.begin(), f.mlp_only_layers.end(), l) != f.mlp_only_layers.end();
        if (mlp_only || f.num_experts <= 0 || (l + 1) % f.sparse_step != 0) continue;
        const std::string p = layer_prefix(l) + "mlp.";
        MoeSpec m;
        m.hidden = c.hidden_size;
        m.act = c.hidden_act;
        m.expert_intermediate = f.moe_intermediate;
        m.router.num_experts = f.num_experts;
        m.router.top_k = f.top_k;
        m.router.renormalize = f.norm_topk_prob;
        m.router_weight = {p + "gate.weight"};
        m.experts.prefixes = {p + "experts."};
        if (shared && f.shared_intermediate > 0) {
            const std::string s = p + "shared_expert.";
            const int64_t I = f.shared_intermediate;
            m.shared.up = LinearSpec::of({s + "gate_proj", s + "up_proj"}, {I, I}, c.hidden_size, false);
            m.shared.down = LinearSpec::of({s + "down_proj"}, {c.hidden_size}, I, false);
            m.shared.act = c.hidden_act;
            m.shared_gate = p + "shared_expert_gate.weight";
        }
        d.layers[l].make_ffn = [m](WeightLoader& w) { return MoeBlock::load(m, w); };
    }
}

Result<DecoderSpec> describe_qwen2_moe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    QwenMoeFields f{60, 4, 1, 1408, 5632, false, {}};  // transformers' Qwen2MoeConfig defaults
    KITE_RETURN_IF_ERROR(read_moe_fields(j, src, f));
    bool qkv_bias = true, use_sliding = false;
    int max_window_layers = 28;
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"qkv_bias"}, src, qkv_bias));
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"use_sliding_window"}, src, use_sliding));
    KITE_RETURN_IF_ERROR(config::read_int(j, {"max_window_layers"}, src, max_window_layers, false, 0));
    c.attention_bias = qkv_bias;
    DecoderSpec d = llama_layout(c);
    // Qwen2MoeConfig.layer_types: sliding on even layers below max_window_layers, with use_sliding_window.
    std::vector<bool> sliding(c.num_layers);
    for (int l = 0; l < c.num_layers; ++l) sliding[l] = use_sliding && (l + 1) % 2 == 1 && l < max_window_layers;
    KITE_RETURN_IF_ERROR(config::read_layer_types(j, src, c.num_layers, sliding));
    for (int l = 0; l < c.num_layers; ++l) {
        d.layers[l].attn.o.biases.clear();
        d.layers[l].attn.sliding_window = sliding[l] && use_sliding ? c.sliding_window : 0;
    }
    add_moe_layers(c, f, /*shared=*/true, d);
    return d;
}

Result<DecoderSpec> describe_qwen3_moe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    QwenMoeFields f{128, 8, 1, 768, 0, false, {}};  // transformers' Qwen3MoeConfig defaults
    KITE_RETURN_IF_ERROR(read_moe_fields(j, src, f));
    bool use_sliding = false;
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"use_sliding_window"}, src, use_sliding));
    DecoderSpec d = llama_layout(c);
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string a = layer_prefix(l) + "self_attn.";
        d.layers[l].attn.q_norm = NormSpec::rms(a + "q_norm", c.rms_norm_eps);
        d.layers[l].attn.k_norm = NormSpec::rms(a + "k_norm", c.rms_norm_eps);
        d.layers[l].attn.sliding_window = use_sliding ? c.sliding_window : 0;
    }
    add_moe_layers(c, f, /*shared=*/false, d);
    return d;
}

// llama.cpp's qwen3moe: the Llama/Qwen3 tensor names, which include the router (ffn_gate_inp) and
// the experts stacked by kind (ffn_{gate,up,down}_exps); Q/K are stored unpermuted.
Status copy_gguf_int(const GgufFile& f, const std::string& key, nlohmann::json& cfg, const char* field) {
    if (!f.has(key)) return Status::ok();
    KITE_ASSIGN_OR_RETURN(int64_t v, f.get_int(key));
    cfg[field] = v;
    return Status::ok();
}

Status qwen3moe_gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    KITE_RETURN_IF_ERROR(copy_gguf_int(f, "qwen3moe.expert_count", cfg, "num_experts"));
    KITE_RETURN_IF_ERROR(copy_gguf_int(f, "qwen3moe.expert_used_count", cfg, "num_experts_per_tok"));
    KITE_RETURN_IF_ERROR(copy_gguf_int(f, "qwen3moe.expert_feed_forward_length", cfg, "moe_intermediate_size"));
    if (!cfg.contains("num_experts") || !cfg.contains("num_experts_per_tok") || !cfg.contains("moe_intermediate_size"))
        return invalid_argument(f.path() + ": qwen3moe GGUF needs qwen3moe.expert_count, expert_used_count and "
                                           "expert_feed_forward_length");
    // llama.cpp renormalises the chosen experts' weights for qwen3moe (Qwen3-MoE's norm_topk_prob).
    bool norm = true;
    if (f.has("qwen3moe.expert_weights_norm")) {
        KITE_ASSIGN_OR_RETURN(norm, f.get_bool("qwen3moe.expert_weights_norm"));
    }
    cfg["norm_topk_prob"] = norm;
    if (f.find_tensor("blk.0.attn_q.bias") != nullptr) cfg["attention_bias"] = true;
    return Status::ok();
}

const GgufArch kQwen3MoeGguf{"qwen3moe", kLlamaGgufGlobals, "model.layers.", kLlamaGgufLayer, &qwen3moe_gguf_config,
                             nullptr};

}  // namespace

extern const ArchDef kQwen2MoeArch{"Qwen2MoeForCausalLM", "qwen2_moe", &describe_qwen2_moe, nullptr};
extern const ArchDef kQwen3MoeArch{"Qwen3MoeForCausalLM", "qwen3_moe", &describe_qwen3_moe, &kQwen3MoeGguf};

}  // namespace kite
