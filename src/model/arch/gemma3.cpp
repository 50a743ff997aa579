// Gemma3ForCausalLM (text): Gemma 2's layout (arch/gemma2.cpp) plus (1 + w) RMSNorms over each
// head of q and k, layer_types (default: 5 sliding layers, then 1 full), final logit soft-capping
// only when set (attention soft-capping is ignored, as transformers does),
// and two rotary tables: full-attention layers use rope_theta (default 1e6) with rope_scaling,
// sliding layers rope_local_base_freq (default 1e4) unscaled. transformers 5's nested
// rope_parameters {"full_attention": {...}, "sliding_attention": {...}} is read too.
// GGUF "gemma3": as Gemma 2 (norms stored as 1 + w).
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

Result<DecoderSpec> gemma_layout(const nlohmann::json& j, const std::string& src, int sliding_pattern,
                                 float default_attn_softcap, float default_final_softcap, std::vector<bool>& sliding);  // arch/gemma2.cpp
Result<Tensor> gemma_gguf_norms_to_hf(const GgufFile& file, const nlohmann::json&, const std::string& name, Tensor t);
Status gemma_gguf_config(const GgufFile& f, const std::string& arch, nlohmann::json& cfg);
extern const GgufArch::NamePair kGemmaGgufLayer[13];

namespace {

// One rotary table from a rope_parameters entry (rope_theta inside, default `theta`).
Status nested_rope(const nlohmann::json& r, const std::string& where, float theta, RopeSpec& out) {
    out.theta = theta;
    out.scaling = RopeScaling{};
    KITE_RETURN_IF_ERROR(config::read_float(r, {"rope_theta"}, where, out.theta));
    KITE_RETURN_IF_ERROR(config::parse_rope_object(r, where, out.scaling));
    if (out.scaling.original_max_position_embeddings == 0)
        out.scaling.original_max_position_embeddings = out.max_position_embeddings;
    return Status::ok();
}

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    bool bidirectional = false;
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"use_bidirectional_attention"}, src, bidirectional));
    if (bidirectional)
        return unimplemented(src + ": use_bidirectional_attention (Gemma 3 as an encoder) is not supported; kite runs "
                                   "causal decoders");
    int pattern = 6;
    KITE_RETURN_IF_ERROR(config::read_int(j, {"sliding_window_pattern", "_sliding_window_pattern"}, src, pattern, false, 1));
    std::vector<bool> sliding;
    KITE_ASSIGN_OR_RETURN(DecoderSpec d, gemma_layout(j, src, pattern, 0.0f, 0.0f, sliding));
    const ModelConfig& c = d.config;
    RopeSpec global = d.rope[0];
    RopeSpec local = global;
    local.scaling = RopeScaling{};
    local.scaling.original_max_position_embeddings = c.max_position_embeddings;
    const nlohmann::json* rp = config::find(j, {"rope_parameters"});
    if (rp != nullptr && rp->is_object() && (rp->contains("full_attention") || rp->contains("sliding_attention"))) {
        const std::string where = src + ": rope_parameters";
        KITE_RETURN_IF_ERROR(nested_rope(rp->value("full_attention", nlohmann::json::object()), where + ".full_attention",
                                         1e6f, global));
        KITE_RETURN_IF_ERROR(nested_rope(rp->value("sliding_attention", nlohmann::json::object()),
                                         where + ".sliding_attention", 1e4f, local));
    } else {
        const bool has_theta = config::find(j, {"rope_theta"}) != nullptr ||
                               (rp != nullptr && rp->is_object() && rp->contains("rope_theta"));
        if (!has_theta) global.theta = 1e6f;  // Gemma3TextConfig's global default
        local.theta = 1e4f;
        KITE_RETURN_IF_ERROR(config::read_float(j, {"rope_local_base_freq"}, src, local.theta));
    }
    d.rope = {global, local};
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string a = layer_prefix(l) + "self_attn.";
        LayerSpec& L = d.layers[l];
        L.attn.q_norm = NormSpec::rms(a + "q_norm", c.rms_norm_eps, 1.0f);
        L.attn.k_norm = NormSpec::rms(a + "k_norm", c.rms_norm_eps, 1.0f);
        L.attn.rope = sliding[l] ? 1 : 0;
        L.attn.softcap = 0.0f;  // transformers' Gemma3Attention reads attn_logit_softcapping but never applies it
    }
    return d;
}

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    KITE_RETURN_IF_ERROR(gemma_gguf_config(f, "gemma3", cfg));
    cfg["rope_local_base_freq"] = 10000.0;  // llama.cpp's fixed local base
    if (f.has("gemma3.rope.freq_base_swa")) {
        KITE_ASSIGN_OR_RETURN(double base, f.get_float("gemma3.rope.freq_base_swa"));
        cfg["rope_local_base_freq"] = base;
    }
    if (!f.has("gemma3.rope.freq_base")) cfg["rope_theta"] = 1000000.0;
    // Which layers slide: llama.cpp's sliding_window_pattern, an int n (as Gemma 3's config) or
    // one bool per layer; absent: n = 6.
    if (f.has("gemma3.attention.sliding_window_pattern")) {
        const nlohmann::json& p = f.metadata_json()["gemma3.attention.sliding_window_pattern"];
        if (p.is_number_integer()) {
            cfg["sliding_window_pattern"] = p;
        } else if (p.is_array()) {
            nlohmann::json types = nlohmann::json::array();
            for (const auto& b : p) types.push_back((b.is_boolean() ? b.get<bool>() : b.get<int64_t>() != 0)
                                                        ? "sliding_attention" : "full_attention");
            cfg["layer_types"] = types;
        } else {
            return invalid_argument(f.path() + ": gemma3.attention.sliding_window_pattern must be an integer or a list of bools");
        }
    }
    return Status::ok();
}

const GgufArch kGguf{"gemma3", kLlamaGgufGlobals, "model.layers.", kGemmaGgufLayer, &gguf_config,
                     &gemma_gguf_norms_to_hf};

}  // namespace

extern const ArchDef kGemma3Arch{"Gemma3ForCausalLM", "gemma3_text", &describe, &kGguf};

}  // namespace kite
