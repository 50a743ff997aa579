// GPTBigCodeForCausalLM (StarCoder 1, SantaCoder): GPT-2 style pre-norm LayerNorm layers (ln_1,
// ln_2), learned absolute positions (wpe), multi-query attention (multi_query: one K/V head, c_attn
// rows [q | k | v]; else per-head [q_h | k_h | v_h]), scale_attn_weights, a plain c_fc -> act ->
// c_proj MLP (n_inner, default 4 x n_embd), biases everywhere, tied head.
// GGUF "starcoder": llama.cpp stores c_attn as attn_qkv in HF order and wpe as position_embd.
#include <cmath>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

namespace {

using namespace config;

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    ModelConfig c;
    KITE_RETURN_IF_ERROR(read_string(j, {"model_type"}, src, c.model_type));
    KITE_RETURN_IF_ERROR(read_int(j, {"vocab_size"}, src, c.vocab_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"n_embd", "hidden_size"}, src, c.hidden_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"n_layer", "num_hidden_layers"}, src, c.num_layers, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"n_head", "num_attention_heads"}, src, c.num_heads, true, 1));
    if (c.hidden_size % c.num_heads != 0)
        return invalid_argument(src + ": n_embd = " + std::to_string(c.hidden_size) + " is not a multiple of n_head = " +
                                std::to_string(c.num_heads));
    c.head_dim = static_cast<int>(c.hidden_size / c.num_heads);
    c.max_position_embeddings = 1024;
    KITE_RETURN_IF_ERROR(read_int(j, {"n_positions", "max_position_embeddings"}, src, c.max_position_embeddings, false, 1));
    c.intermediate_size = 4 * c.hidden_size;
    KITE_RETURN_IF_ERROR(read_int(j, {"n_inner"}, src, c.intermediate_size, false, 1));
    c.hidden_act = "gelu_pytorch_tanh";
    KITE_RETURN_IF_ERROR(read_string(j, {"activation_function"}, src, c.hidden_act));
    c.tie_word_embeddings = true;
    KITE_RETURN_IF_ERROR(read_bool(j, {"tie_word_embeddings"}, src, c.tie_word_embeddings));
    KITE_RETURN_IF_ERROR(read_common_ids(j, src, c));
    bool multi_query = true, scale = true;
    float eps = 1e-5f;
    KITE_RETURN_IF_ERROR(read_bool(j, {"multi_query"}, src, multi_query));
    KITE_RETURN_IF_ERROR(read_bool(j, {"scale_attn_weights"}, src, scale));
    KITE_RETURN_IF_ERROR(read_float(j, {"layer_norm_epsilon"}, src, eps));
    c.num_kv_heads = multi_query ? 1 : c.num_heads;

    DecoderSpec d;
    d.config = c;
    d.base_prefix = "transformer.";
    d.embed.tokens = "transformer.wte.weight";
    d.embed.positions = "transformer.wpe.weight";
    d.embed.num_positions = c.max_position_embeddings;
    const int64_t H = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = "transformer.h." + std::to_string(l) + ".";
        LayerSpec L;
        L.attn_norm = NormSpec::layer(p + "ln_1", eps);
        L.mlp_norm = NormSpec::layer(p + "ln_2", eps);
        AttentionSpec& a = L.attn;
        a.num_heads = c.num_heads;
        a.num_kv_heads = c.num_kv_heads;
        a.head_dim = c.head_dim;
        a.qkv = LinearSpec::of({p + "attn.c_attn"}, {(c.num_heads + 2 * c.num_kv_heads) * D}, H, true);
        if (!multi_query) a.qkv.row_order = qkv_order_per_head(c.num_heads, c.head_dim);
        a.o = LinearSpec::of({p + "attn.c_proj"}, {H}, H, true);
        a.scale = scale ? 1.0f / std::sqrt(static_cast<float>(D)) : 1.0f;
        L.mlp = MlpSpec::plain(p + "mlp.c_fc", p + "mlp.c_proj", H, I, true, c.hidden_act);
        d.layers.push_back(std::move(L));
    }
    d.final_norm = NormSpec::layer("transformer.ln_f", eps);
    return d;
}

constexpr GgufArch::NamePair kGlobals[] = {
    {"transformer.wte.weight", "token_embd.weight"},
    {"transformer.wpe.weight", "position_embd.weight"},
    {"transformer.ln_f.weight", "output_norm.weight"},
    {"transformer.ln_f.bias", "output_norm.bias"},
    {"lm_head.weight", "output.weight"},
};
constexpr GgufArch::NamePair kLayer[] = {
    {"ln_1.weight", "attn_norm.weight"},
    {"ln_1.bias", "attn_norm.bias"},
    {"ln_2.weight", "ffn_norm.weight"},
    {"ln_2.bias", "ffn_norm.bias"},
    {"attn.c_attn.weight", "attn_qkv.weight"},
    {"attn.c_attn.bias", "attn_qkv.bias"},
    {"attn.c_proj.weight", "attn_output.weight"},
    {"attn.c_proj.bias", "attn_output.bias"},
    {"mlp.c_fc.weight", "ffn_up.weight"},
    {"mlp.c_fc.bias", "ffn_up.bias"},
    {"mlp.c_proj.weight", "ffn_down.weight"},
    {"mlp.c_proj.bias", "ffn_down.bias"},
};

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    cfg["n_embd"] = cfg["hidden_size"];
    cfg["n_layer"] = cfg["num_hidden_layers"];
    cfg["n_head"] = cfg["num_attention_heads"];
    cfg["n_inner"] = cfg["intermediate_size"];
    if (cfg.contains("max_position_embeddings")) cfg["n_positions"] = cfg["max_position_embeddings"];
    cfg["multi_query"] = cfg.value("num_key_value_heads", int64_t{1}) == 1;
    if (cfg.contains("layer_norm_eps")) cfg["layer_norm_epsilon"] = cfg["layer_norm_eps"];
    return Status::ok();
}

const GgufArch kGguf{"starcoder", kGlobals, "transformer.h.", kLayer, &gguf_config, nullptr};

}  // namespace

extern const ArchDef kGptBigCodeArch{"GPTBigCodeForCausalLM", "gpt_bigcode", &describe, &kGguf};

}  // namespace kite
