// BloomForCausalLM: ALiBi positions (no rotary), LayerNorm on the word embeddings
// (word_embeddings_layernorm), pre-norm LayerNorm layers, a fused per-head query_key_value
// (rows [q_h | k_h | v_h] per head, reordered at load), a plain dense_h_to_4h -> gelu (tanh) ->
// dense_4h_to_h MLP of 4 x hidden, biases everywhere, tied head, and
// apply_residual_connection_post_layernorm (the residual stream takes the normed value).
// GGUF "bloom": llama.cpp reorders query_key_value into [q | k | v]; it is put back per head on load.
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/config_fields.h"
#include "model/registry.h"
#include "ops/ops.h"

namespace kite {

namespace {

using namespace config;

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    ModelConfig c;
    KITE_RETURN_IF_ERROR(read_string(j, {"model_type"}, src, c.model_type));
    KITE_RETURN_IF_ERROR(read_int(j, {"vocab_size"}, src, c.vocab_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"hidden_size", "n_embed"}, src, c.hidden_size, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"n_layer", "num_hidden_layers"}, src, c.num_layers, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"n_head", "num_attention_heads"}, src, c.num_heads, true, 1));
    if (c.hidden_size % c.num_heads != 0)
        return invalid_argument(src + ": hidden_size = " + std::to_string(c.hidden_size) + " is not a multiple of n_head = " +
                                std::to_string(c.num_heads));
    c.num_kv_heads = c.num_heads;
    c.head_dim = static_cast<int>(c.hidden_size / c.num_heads);
    c.intermediate_size = 4 * c.hidden_size;
    // ALiBi has no trained length; 2048 is what BLOOM was trained on (seq_length in its configs).
    c.max_position_embeddings = 2048;
    KITE_RETURN_IF_ERROR(read_int(j, {"max_position_embeddings", "seq_length"}, src, c.max_position_embeddings, false, 1));
    c.hidden_act = "gelu_pytorch_tanh";  // bloom_gelu_forward: the tanh approximation
    c.tie_word_embeddings = true;
    KITE_RETURN_IF_ERROR(read_bool(j, {"tie_word_embeddings"}, src, c.tie_word_embeddings));
    KITE_RETURN_IF_ERROR(read_common_ids(j, src, c));
    float eps = 1e-5f;
    bool residual_from_norm = false;
    KITE_RETURN_IF_ERROR(read_float(j, {"layer_norm_epsilon"}, src, eps));
    KITE_RETURN_IF_ERROR(read_bool(j, {"apply_residual_connection_post_layernorm"}, src, residual_from_norm));

    DecoderSpec d;
    d.config = c;
    d.base_prefix = "transformer.";
    d.embed.tokens = "transformer.word_embeddings.weight";
    d.embed.norm = NormSpec::layer("transformer.word_embeddings_layernorm", eps);
    const std::vector<float> slopes = ops::alibi_slopes(c.num_heads);
    const int64_t H = c.hidden_size, I = c.intermediate_size;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = "transformer.h." + std::to_string(l) + ".";
        LayerSpec L;
        L.attn_norm = NormSpec::layer(p + "input_layernorm", eps);
        L.mlp_norm = NormSpec::layer(p + "post_attention_layernorm", eps);
        L.residual_from_norm = residual_from_norm;
        AttentionSpec& a = L.attn;
        a.num_heads = a.num_kv_heads = c.num_heads;
        a.head_dim = c.head_dim;
        a.qkv = LinearSpec::of({p + "self_attention.query_key_value"}, {3 * H}, H, true);
        a.qkv.row_order = qkv_order_per_head(c.num_heads, c.head_dim);
        a.o = LinearSpec::of({p + "self_attention.dense"}, {H}, H, true);
        a.alibi_slopes = slopes;
        L.mlp = MlpSpec::plain(p + "mlp.dense_h_to_4h", p + "mlp.dense_4h_to_h", H, I, true, c.hidden_act);
        d.layers.push_back(std::move(L));
    }
    d.final_norm = NormSpec::layer("transformer.ln_f", eps);
    return d;
}

constexpr GgufArch::NamePair kGlobals[] = {
    {"transformer.word_embeddings.weight", "token_embd.weight"},
    {"transformer.word_embeddings_layernorm.weight", "token_embd_norm.weight"},
    {"transformer.word_embeddings_layernorm.bias", "token_embd_norm.bias"},
    {"transformer.ln_f.weight", "output_norm.weight"},
    {"transformer.ln_f.bias", "output_norm.bias"},
    {"lm_head.weight", "output.weight"},
};
constexpr GgufArch::NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"input_layernorm.bias", "attn_norm.bias"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"post_attention_layernorm.bias", "ffn_norm.bias"},
    {"self_attention.query_key_value.weight", "attn_qkv.weight"},
    {"self_attention.query_key_value.bias", "attn_qkv.bias"},
    {"self_attention.dense.weight", "attn_output.weight"},
    {"self_attention.dense.bias", "attn_output.bias"},
    {"mlp.dense_h_to_4h.weight", "ffn_up.weight"},
    {"mlp.dense_h_to_4h.bias", "ffn_up.bias"},
    {"mlp.dense_4h_to_h.weight", "ffn_down.weight"},
    {"mlp.dense_4h_to_h.bias", "ffn_down.bias"},
};

Status gguf_config(const GgufFile&, nlohmann::json& cfg) {
    cfg["n_layer"] = cfg["num_hidden_layers"];
    cfg["n_head"] = cfg["num_attention_heads"];
    if (cfg.contains("layer_norm_eps")) cfg["layer_norm_epsilon"] = cfg["layer_norm_eps"];
    return Status::ok();
}

}  // namespace

// convert_hf_to_gguf turns the per-head [q_h | k_h | v_h] rows of Bloom's and GPT-NeoX's fused
// query_key_value (weight and bias) into [q | k | v]; the architectures reorder from per-head
// themselves, so the rows go back to per head here.
Result<Tensor> gguf_qkv_to_per_head(const GgufFile& file, const nlohmann::json& cfg, const std::string& name, Tensor t) {
    if (name.find(".attn_qkv.") == std::string::npos) return t;
    const int64_t heads = cfg.value("num_attention_heads", int64_t{0}), rows = t.dim(0);
    if (heads <= 0 || rows % (3 * heads) != 0)
        return invalid_argument(file.path() + ": tensor " + name + " has " + std::to_string(rows) +
                                " rows, not 3 x " + std::to_string(heads) + " heads");
    return permute_rows(t, inverse_order(qkv_order_per_head(static_cast<int>(heads), static_cast<int>(rows / (3 * heads)))));
}

namespace {

const GgufArch kGguf{"bloom", kGlobals, "transformer.h.", kLayer, &gguf_config, &gguf_qkv_to_per_head};

}  // namespace

extern const ArchDef kBloomArch{"BloomForCausalLM", "bloom", &describe, &kGguf};

}  // namespace kite
