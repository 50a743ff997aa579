// GPTNeoXForCausalLM (Pythia, GPT-NeoX-20B): LayerNorm (with bias) layers, a fused per-head
// interleaved query_key_value (rows [q_h | k_h | v_h] per head, reordered at load), partial rotary
// (rotary_pct, default 0.25; base rotary_emb_base), a plain dense_h_to_4h -> act -> dense_4h_to_h MLP,
// parallel residual (x + attn(ln1(x)) + mlp(ln2(x))) or sequential (use_parallel_residual false),
// an untied head (embed_out in older checkpoints, lm_head in newer ones).
// GGUF "gptneox": llama.cpp reorders attn_qkv into [q | k | v] (as for Bloom); put back per head on load.
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

Result<Tensor> gguf_qkv_to_per_head(const GgufFile& file, const nlohmann::json& cfg, const std::string& name,
                                    Tensor t);  // arch/bloom.cpp

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    c.hidden_act = "gelu";
    KITE_RETURN_IF_ERROR(config::read_string(j, {"hidden_act"}, src, c.hidden_act));
    c.partial_rotary_factor = 0.25f;
    KITE_RETURN_IF_ERROR(config::read_partial_rotary(j, {"rotary_pct", "partial_rotary_factor"}, src, c.partial_rotary_factor));
    KITE_RETURN_IF_ERROR(config::read_float(j, {"rotary_emb_base"}, src, c.rope_theta));
    float eps = 1e-5f;
    bool attention_bias = true, parallel = true;
    KITE_RETURN_IF_ERROR(config::read_float(j, {"layer_norm_eps"}, src, eps));
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"attention_bias"}, src, attention_bias));
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"use_parallel_residual"}, src, parallel));
    if (c.num_kv_heads != c.num_heads) return invalid_argument(src + ": GPT-NeoX has no grouped-query attention");

    DecoderSpec d;
    d.config = c;
    d.base_prefix = "gpt_neox.";
    d.rope.push_back(RopeSpec::from_config(c));
    d.embed.tokens = "gpt_neox.embed_in.weight";
    const int64_t H = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
        LayerSpec L;
        L.residual = parallel ? Residual::kParallel : Residual::kSequential;
        L.attn_norm = NormSpec::layer(p + "input_layernorm", eps);
        L.mlp_norm = NormSpec::layer(p + "post_attention_layernorm", eps);
        AttentionSpec& a = L.attn;
        a.num_heads = a.num_kv_heads = c.num_heads;
        a.head_dim = c.head_dim;
        a.qkv = LinearSpec::of({p + "attention.query_key_value"}, {3 * c.num_heads * D}, H, attention_bias);
        a.qkv.row_order = qkv_order_per_head(c.num_heads, c.head_dim);
        a.o = LinearSpec::of({p + "attention.dense"}, {H}, c.num_heads * D, attention_bias);
        a.rope = 0;
        L.mlp = MlpSpec::plain(p + "mlp.dense_h_to_4h", p + "mlp.dense_4h_to_h", H, I, true, c.hidden_act);
        d.layers.push_back(std::move(L));
    }
    d.final_norm = NormSpec::layer("gpt_neox.final_layer_norm", eps);
    d.head.weight = {"lm_head.weight", "embed_out.weight"};
    return d;
}

constexpr GgufArch::NamePair kGlobals[] = {
    {"gpt_neox.embed_in.weight", "token_embd.weight"},
    {"gpt_neox.final_layer_norm.weight", "output_norm.weight"},
    {"gpt_neox.final_layer_norm.bias", "output_norm.bias"},
    {"lm_head.weight", "output.weight"},
};
constexpr GgufArch::NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"input_layernorm.bias", "attn_norm.bias"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"post_attention_layernorm.bias", "ffn_norm.bias"},
    {"attention.query_key_value.weight", "attn_qkv.weight"},
    {"attention.query_key_value.bias", "attn_qkv.bias"},
    {"attention.dense.weight", "attn_output.weight"},
    {"attention.dense.bias", "attn_output.bias"},
    {"mlp.dense_h_to_4h.weight", "ffn_up.weight"},
    {"mlp.dense_h_to_4h.bias", "ffn_up.bias"},
    {"mlp.dense_4h_to_h.weight", "ffn_down.weight"},
    {"mlp.dense_4h_to_h.bias", "ffn_down.bias"},
};

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    cfg["hidden_act"] = "gelu";
    cfg["attention_bias"] = f.find_tensor("blk.0.attn_qkv.bias") != nullptr;
    cfg["use_parallel_residual"] = true;
    if (f.has("gptneox.use_parallel_residual")) {
        KITE_ASSIGN_OR_RETURN(bool parallel, f.get_bool("gptneox.use_parallel_residual"));
        cfg["use_parallel_residual"] = parallel;
    }
    if (!cfg.contains("partial_rotary_factor")) cfg["partial_rotary_factor"] = 1.0;
    return Status::ok();
}

const GgufArch kGguf{"gptneox", kGlobals, "gpt_neox.layers.", kLayer, &gguf_config, &gguf_qkv_to_per_head};

}  // namespace

extern const ArchDef kGptNeoXArch{"GPTNeoXForCausalLM", "gpt_neox", &describe, &kGguf};

}  // namespace kite
