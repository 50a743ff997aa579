// Glm4ForCausalLM (GLM-4-0414): Llama-named q/k/v projections with biases (attention_bias, default
// on; o_proj never has one), fused gate_up_proj, RMSNorm sandwich (post_self_attn_layernorm after
// attention, post_mlp_layernorm after the MLP), partial rotary (default 0.5) on interleaved pairs.
// GGUF "glm4": llama.cpp's names for the extra norms are post_attention_norm / post_ffw_norm.
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    c.rms_norm_eps = 1.5625e-7f;  // Glm4Config's defaults
    KITE_RETURN_IF_ERROR(config::read_float(j, {"rms_norm_eps"}, src, c.rms_norm_eps));
    c.attention_bias = true;
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"attention_bias"}, src, c.attention_bias));
    c.partial_rotary_factor = 0.5f;
    KITE_RETURN_IF_ERROR(config::read_partial_rotary(j, {"partial_rotary_factor"}, src, c.partial_rotary_factor));
    DecoderSpec d = llama_layout(c);
    d.rope[0] = RopeSpec::from_config(c);
    d.rope[0].interleaved = true;
    const int64_t H = c.hidden_size, I = c.intermediate_size;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = layer_prefix(l);
        LayerSpec& L = d.layers[l];
        L.attn.o.biases.clear();
        L.post_attn_norm = NormSpec::rms(p + "post_self_attn_layernorm", c.rms_norm_eps);
        L.mlp_norm = NormSpec::rms(p + "post_attention_layernorm", c.rms_norm_eps);
        L.post_mlp_norm = NormSpec::rms(p + "post_mlp_layernorm", c.rms_norm_eps);
        L.mlp.up = LinearSpec::of({p + "mlp.gate_up_proj"}, {2 * I}, H, false);
        L.mlp.down = LinearSpec::of({p + "mlp.down_proj"}, {H}, I, false);
    }
    return d;
}

constexpr GgufArch::NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_self_attn_layernorm.weight", "post_attention_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"post_mlp_layernorm.weight", "post_ffw_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"mlp.gate_up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    cfg["attention_bias"] = f.find_tensor("blk.0.attn_q.bias") != nullptr;
    if (!cfg.contains("partial_rotary_factor")) cfg["partial_rotary_factor"] = 1.0;
    return Status::ok();
}

const GgufArch kGguf{"glm4", kLlamaGgufGlobals, "model.layers.", kLayer, &gguf_config, nullptr};

}  // namespace

extern const ArchDef kGlm4Arch{"Glm4ForCausalLM", "glm4", &describe, &kGguf};

}  // namespace kite
