// Gemma2ForCausalLM: Llama-named layers with (1 + w) RMSNorms before and after both attention and
// MLP (sandwich), GeGLU (hidden_activation), embeddings scaled by sqrt(hidden_size), a tied head,
// attention logit soft-capping, final logit soft-capping, softmax scale query_pre_attn_scalar^-0.5,
// and a sliding window on the layers layer_types marks (default: every other layer from the first).
// Gemma 3 (arch/gemma3.cpp) builds on gemma_layout() below.
// GGUF "gemma2": llama.cpp stores norm weights as (1 + w); they are turned back into w.
#include <cmath>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

// The Gemma 2/3 layout with their config defaults; `sliding_pattern` n: layer i slides unless
// (i + 1) % n == 0 (when config.json has no layer_types). `sliding` gets each layer's type.
Result<DecoderSpec> gemma_layout(const nlohmann::json& j, const std::string& src, int sliding_pattern,
                                 float default_attn_softcap, float default_final_softcap, std::vector<bool>& sliding) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    c.head_dim = 256;  // GemmaConfig's default, not hidden / heads
    KITE_RETURN_IF_ERROR(config::read_int(j, {"head_dim"}, src, c.head_dim, false, 1));
    c.hidden_act = "gelu_pytorch_tanh";
    KITE_RETURN_IF_ERROR(config::read_string(j, {"hidden_activation"}, src, c.hidden_act));
    c.tie_word_embeddings = true;
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"tie_word_embeddings"}, src, c.tie_word_embeddings));
    c.sliding_window = 4096;
    KITE_RETURN_IF_ERROR(config::read_nullable_int(j, {"sliding_window"}, src, c.sliding_window));
    float query_pre_attn_scalar = 256, attn_softcap = default_attn_softcap, final_softcap = default_final_softcap;
    KITE_RETURN_IF_ERROR(config::read_float(j, {"query_pre_attn_scalar"}, src, query_pre_attn_scalar));
    if (query_pre_attn_scalar <= 0) return invalid_argument(src + ": query_pre_attn_scalar must be > 0");
    KITE_RETURN_IF_ERROR(config::read_nullable_float(j, {"attn_logit_softcapping"}, src, attn_softcap));
    KITE_RETURN_IF_ERROR(config::read_nullable_float(j, {"final_logit_softcapping"}, src, final_softcap));
    if (attn_softcap < 0 || final_softcap < 0) return invalid_argument(src + ": soft-capping values must be >= 0");
    sliding.assign(c.num_layers, false);
    for (int l = 0; l < c.num_layers; ++l) sliding[l] = (l + 1) % sliding_pattern != 0;
    KITE_RETURN_IF_ERROR(config::read_layer_types(j, src, c.num_layers, sliding));

    DecoderSpec d = llama_layout(c);
    const float eps = c.rms_norm_eps;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = layer_prefix(l);
        LayerSpec& L = d.layers[l];
        L.attn_norm = NormSpec::rms(p + "input_layernorm", eps, 1.0f);
        L.post_attn_norm = NormSpec::rms(p + "post_attention_layernorm", eps, 1.0f);
        L.mlp_norm = NormSpec::rms(p + "pre_feedforward_layernorm", eps, 1.0f);
        L.post_mlp_norm = NormSpec::rms(p + "post_feedforward_layernorm", eps, 1.0f);
        L.attn.scale = 1.0f / std::sqrt(query_pre_attn_scalar);
        L.attn.softcap = attn_softcap;
        L.attn.sliding_window = sliding[l] ? c.sliding_window : 0;
    }
    d.final_norm = NormSpec::rms("model.norm", eps, 1.0f);
    d.embed.scale = static_cast<float>(std::sqrt(static_cast<double>(c.hidden_size)));
    d.head.final_softcap = final_softcap;
    return d;
}

// llama.cpp's Gemma converters store every RMSNorm weight as 1 + w.
Result<Tensor> gemma_gguf_norms_to_hf(const GgufFile& file, const nlohmann::json&, const std::string& name, Tensor t) {
    if (name.find("norm.weight") == std::string::npos) return t;
    if (t.dtype() != DType::kF32)
        return invalid_argument(file.path() + ": norm tensor " + name + " must be f32, got " + dtype_name(t.dtype()));
    Tensor out = Tensor::zeros(DType::kF32, t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) out.data<float>()[i] = t.data<float>()[i] - 1.0f;
    return out;
}

// GGUF names of Gemma 2/3 layers (q/k norms: Gemma 3 only).
extern const GgufArch::NamePair kGemmaGgufLayer[13];
const GgufArch::NamePair kGemmaGgufLayer[13] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "post_attention_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

// Gemma 2/3 metadata llama.cpp writes beyond the common keys.
Status gemma_gguf_config(const GgufFile& f, const std::string& arch, nlohmann::json& cfg) {
    cfg["hidden_activation"] = "gelu_pytorch_tanh";
    cfg["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
    // llama.cpp scales queries by 1/sqrt(head_dim), except for the 27B models (46 and 62 layers),
    // whose query_pre_attn_scalar is hidden_size / heads; GGUF has no key for it.
    const int64_t layers = cfg.value("num_hidden_layers", int64_t{0});
    const int64_t per_head = cfg.value("hidden_size", int64_t{0}) / std::max<int64_t>(1, cfg.value("num_attention_heads", int64_t{1}));
    cfg["query_pre_attn_scalar"] = (layers == 46 || layers == 62) ? per_head : cfg.value("head_dim", per_head);
    for (auto [key, field] : {std::pair{".attn_logit_softcapping", "attn_logit_softcapping"},
                              std::pair{".final_logit_softcapping", "final_logit_softcapping"}}) {
        cfg[field] = nullptr;  // absent in the file: off
        if (!f.has(arch + key)) continue;
        KITE_ASSIGN_OR_RETURN(double v, f.get_float(arch + key));
        cfg[field] = v;
    }
    cfg["sliding_window"] = nullptr;
    if (f.has(arch + ".attention.sliding_window")) {
        KITE_ASSIGN_OR_RETURN(int64_t w, f.get_int(arch + ".attention.sliding_window"));
        cfg["sliding_window"] = w;
    }
    return Status::ok();
}

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    std::vector<bool> sliding;
    return gemma_layout(j, src, /*sliding_pattern=*/2, /*attn softcap=*/50.0f, /*final softcap=*/30.0f, sliding);
}

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) { return gemma_gguf_config(f, "gemma2", cfg); }

const GgufArch kGguf{"gemma2", kLlamaGgufGlobals, "model.layers.", kGemmaGgufLayer, &gguf_config, &gemma_gguf_norms_to_hf};

}  // namespace

extern const ArchDef kGemma2Arch{"Gemma2ForCausalLM", "gemma2", &describe, &kGguf};

}  // namespace kite
