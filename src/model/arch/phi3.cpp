// Phi3ForCausalLM (Phi-3, Phi-3.5, Phi-4-mini): the Llama layout with fused qkv_proj and
// gate_up_proj, partial rotary, longrope scaling (short/long factors switched per sequence at
// original_max_position_embeddings) and a sliding window on every layer when set.
// GGUF "phi3": llama.cpp keeps the fused attn_qkv and ffn_up (gate|up) tensors, and longrope's
// factors as rope_factors_short/long tensors.
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

namespace {

Result<DecoderSpec> describe(const nlohmann::json& config_json, const std::string& src) {
    nlohmann::json j = config_json;
    // Phi3Config renames the older "su" and "yarn" rope types to longrope.
    for (const char* key : {"rope_scaling", "rope_parameters"}) {
        if (!j.contains(key) || !j[key].is_object()) continue;
        nlohmann::json& r = j[key];
        const std::string t = r.value("rope_type", r.value("type", std::string()));
        if (t == "su" || t == "yarn") r["rope_type"] = "longrope", r.erase("type");
    }
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    if (c.rope_scaling.type != RopeScaling::Type::kNone && c.rope_scaling.type != RopeScaling::Type::kLongRope)
        return invalid_argument(src + ": Phi-3 rope_scaling must be longrope (or absent)");
    c.rms_norm_eps = 1e-5f;  // Phi3Config's default
    KITE_RETURN_IF_ERROR(config::read_float(j, {"rms_norm_eps"}, src, c.rms_norm_eps));
    // Phi3Config always has original_max_position_embeddings (default 4096); it wins over rope_scaling's.
    int original = 4096;
    KITE_RETURN_IF_ERROR(config::read_int(j, {"original_max_position_embeddings"}, src, original, false, 1));
    c.rope_scaling.original_max_position_embeddings = original;
    if (c.rope_scaling.type == RopeScaling::Type::kLongRope) {
        const size_t half = static_cast<size_t>(RopeSpec::from_config(c).rot_dim / 2);
        if (c.rope_scaling.short_factor.size() != half || c.rope_scaling.long_factor.size() != half)
            return invalid_argument(src + ": rope_scaling short_factor and long_factor must have " +
                                    std::to_string(half) + " entries (rotary dims / 2)");
    }
    DecoderSpec d = llama_layout(c);
    const int64_t H = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
    const int64_t qkv_rows = int64_t(c.num_heads + 2 * c.num_kv_heads) * D;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = layer_prefix(l);
        LayerSpec& L = d.layers[l];
        L.attn.qkv = LinearSpec::of({p + "self_attn.qkv_proj"}, {qkv_rows}, H, false);
        L.attn.o = LinearSpec::of({p + "self_attn.o_proj"}, {H}, int64_t(c.num_heads) * D, false);
        L.attn.sliding_window = c.sliding_window;
        L.mlp.up = LinearSpec::of({p + "mlp.gate_up_proj"}, {2 * I}, H, false);
        L.mlp.down = LinearSpec::of({p + "mlp.down_proj"}, {H}, I, false);
    }
    return d;
}

constexpr GgufArch::NamePair kGlobals[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};
constexpr GgufArch::NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"mlp.gate_up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

// One f32 factor per rotary frequency, stored by llama.cpp as a tensor.
Result<nlohmann::json> factor_list(const GgufFile& f, const std::string& name) {
    KITE_ASSIGN_OR_RETURN(Tensor t, f.tensor(name));
    if (t.dtype() != DType::kF32 || t.ndim() != 1)
        return invalid_argument(f.path() + ": " + name + " must be a 1-D f32 tensor");
    nlohmann::json out = nlohmann::json::array();
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t.data<float>()[i]);
    return out;
}

// llama.cpp keeps longrope's factors as rope_factors_short/long tensors, the trained context as
// rope.scaling.original_context_length and the cos/sin scale as rope.scaling.attn_factor.
Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    if (f.find_tensor("rope_factors_long.weight") == nullptr) return Status::ok();
    nlohmann::json rs = {{"rope_type", "longrope"}};
    KITE_ASSIGN_OR_RETURN(rs["long_factor"], factor_list(f, "rope_factors_long.weight"));
    KITE_ASSIGN_OR_RETURN(rs["short_factor"], factor_list(f, "rope_factors_short.weight"));
    if (f.has("phi3.rope.scaling.attn_factor")) {
        KITE_ASSIGN_OR_RETURN(double a, f.get_float("phi3.rope.scaling.attn_factor"));
        rs["attention_factor"] = a;
    }
    if (f.has("phi3.rope.scaling.original_context_length")) {
        KITE_ASSIGN_OR_RETURN(int64_t n, f.get_int("phi3.rope.scaling.original_context_length"));
        cfg["original_max_position_embeddings"] = n;
    }
    cfg["rope_scaling"] = rs;
    return Status::ok();
}

const GgufArch kGguf{"phi3", kGlobals, "model.layers.", kLayer, &gguf_config, nullptr};

}  // namespace

extern const ArchDef kPhi3Arch{"Phi3ForCausalLM", "phi3", &describe, &kGguf};

}  // namespace kite
