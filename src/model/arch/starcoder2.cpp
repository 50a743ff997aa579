// Starcoder2ForCausalLM: GQA attention with biases (use_bias, default on) on q/k/v/o, LayerNorm
// (always with bias, eps norm_epsilon) pre-norm layers, a plain c_fc -> act -> c_proj MLP (biases
// per use_bias), a sliding window on every layer when set, tied head by default.
// GGUF "starcoder2": llama.cpp's llama-style names, with LayerNorm biases and ffn_up/ffn_down.
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    bool use_bias = true;
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"use_bias"}, src, use_bias));
    c.attention_bias = use_bias;
    c.hidden_act = "gelu_pytorch_tanh";
    KITE_RETURN_IF_ERROR(config::read_string(j, {"hidden_act"}, src, c.hidden_act));
    c.tie_word_embeddings = true;
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"tie_word_embeddings"}, src, c.tie_word_embeddings));
    float eps = 1e-5f;
    KITE_RETURN_IF_ERROR(config::read_float(j, {"norm_epsilon"}, src, eps));
    c.rms_norm_eps = eps;
    DecoderSpec d = llama_layout(c);
    const int64_t H = c.hidden_size, I = c.intermediate_size;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = layer_prefix(l);
        LayerSpec& L = d.layers[l];
        L.attn_norm = NormSpec::layer(p + "input_layernorm", eps);
        L.mlp_norm = NormSpec::layer(p + "post_attention_layernorm", eps);
        L.attn.sliding_window = c.sliding_window;
        L.mlp = MlpSpec::plain(p + "mlp.c_fc", p + "mlp.c_proj", H, I, use_bias, c.hidden_act);
    }
    d.final_norm = NormSpec::layer("model.norm", eps);
    return d;
}

constexpr GgufArch::NamePair kGlobals[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"model.norm.bias", "output_norm.bias"},
    {"lm_head.weight", "output.weight"},
};
constexpr GgufArch::NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"input_layernorm.bias", "attn_norm.bias"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"post_attention_layernorm.bias", "ffn_norm.bias"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"mlp.c_fc.weight", "ffn_up.weight"},
    {"mlp.c_fc.bias", "ffn_up.bias"},
    {"mlp.c_proj.weight", "ffn_down.weight"},
    {"mlp.c_proj.bias", "ffn_down.bias"},
};

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    cfg["hidden_act"] = "gelu_pytorch_tanh";
    cfg["use_bias"] = f.find_tensor("blk.0.attn_q.bias") != nullptr;
    if (cfg.contains("layer_norm_eps")) cfg["norm_epsilon"] = cfg["layer_norm_eps"];
    return Status::ok();
}

const GgufArch kGguf{"starcoder2", kGlobals, "model.layers.", kLayer, &gguf_config, nullptr};

}  // namespace

extern const ArchDef kStarcoder2Arch{"Starcoder2ForCausalLM", "starcoder2", &describe, &kGguf};

}  // namespace kite
