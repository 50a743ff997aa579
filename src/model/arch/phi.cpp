// PhiForCausalLM (Phi-1, Phi-1.5, Phi-2): attention and MLP in parallel from one LayerNorm (with
// bias), q/k/v/dense and fc1/fc2 with biases, optional LayerNorm over each head of q and k
// (qk_layernorm), partial rotary (default 0.5), final_layernorm, an lm_head with bias.
// GGUF "phi2": q/k/v stored apart (attn_q/k/v) are read; a fused attn_qkv is refused.
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    c.hidden_act = "gelu_new";
    KITE_RETURN_IF_ERROR(config::read_string(j, {"hidden_act"}, src, c.hidden_act));
    c.partial_rotary_factor = 0.5f;
    KITE_RETURN_IF_ERROR(config::read_partial_rotary(j, {"partial_rotary_factor"}, src, c.partial_rotary_factor));
    float eps = 1e-5f;
    bool qk_layernorm = false;
    KITE_RETURN_IF_ERROR(config::read_float(j, {"layer_norm_eps"}, src, eps));
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"qk_layernorm"}, src, qk_layernorm));
    c.attention_bias = true;
    c.mlp_bias = true;
    DecoderSpec d = llama_layout(c);
    d.rope[0] = RopeSpec::from_config(c);
    const int64_t H = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = layer_prefix(l), a = p + "self_attn.";
        LayerSpec& L = d.layers[l];
        L.residual = Residual::kParallel;
        L.attn_norm = NormSpec::layer(p + "input_layernorm", eps);
        L.mlp_norm = NormSpec{};  // the MLP reads input_layernorm's output too
        L.attn.o = LinearSpec::of({a + "dense"}, {H}, int64_t(c.num_heads) * D, true);
        if (qk_layernorm) {
            L.attn.q_norm = NormSpec::layer(a + "q_layernorm", eps);
            L.attn.k_norm = NormSpec::layer(a + "k_layernorm", eps);
        }
        L.mlp = MlpSpec::plain(p + "mlp.fc1", p + "mlp.fc2", H, I, true, c.hidden_act);
    }
    d.final_norm = NormSpec::layer("model.final_layernorm", eps);
    d.head.bias = "lm_head.bias";
    return d;
}

constexpr GgufArch::NamePair kGlobals[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.final_layernorm.weight", "output_norm.weight"},
    {"model.final_layernorm.bias", "output_norm.bias"},
    {"lm_head.weight", "output.weight"},
    {"lm_head.bias", "output.bias"},
};
constexpr GgufArch::NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"input_layernorm.bias", "attn_norm.bias"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.dense.weight", "attn_output.weight"},
    {"self_attn.dense.bias", "attn_output.bias"},
    {"mlp.fc1.weight", "ffn_up.weight"},
    {"mlp.fc1.bias", "ffn_up.bias"},
    {"mlp.fc2.weight", "ffn_down.weight"},
    {"mlp.fc2.bias", "ffn_down.bias"},
};

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    if (f.find_tensor("blk.0.attn_qkv.weight") != nullptr)
        return unimplemented(f.path() + ": phi2 GGUF with a fused attn_qkv tensor is not supported yet (expected attn_q/k/v)");
    cfg["hidden_act"] = "gelu_new";
    if (!cfg.contains("partial_rotary_factor")) cfg["partial_rotary_factor"] = 1.0;
    return Status::ok();
}

const GgufArch kGguf{"phi2", kGlobals, "model.layers.", kLayer, &gguf_config, nullptr};

}  // namespace

extern const ArchDef kPhiArch{"PhiForCausalLM", "phi", &describe, &kGguf};

}  // namespace kite
