// FalconForCausalLM, both layouts:
//  - Falcon-7B style (new_decoder_architecture false): multi_query (one K/V head; else one per
//    head, per-head interleaved q|k|v), parallel_attn (attention and MLP from input_layernorm) or
//    sequential (post_attention_layernorm before the MLP);
//  - Falcon-40B/180B style (new_decoder_architecture true): grouped K/V (num_kv_heads), q/k/v
//    fused per kv group, always parallel, from ln_attn + ln_mlp (num_ln_in_parallel_attn 2, the
//    default) or from input_layernorm alone (1).
// LayerNorms with bias, linears with bias per `bias`, dense_h_to_4h -> activation (default gelu)
// -> dense_4h_to_h (ffn_hidden_size, default 4 x hidden), rotary over the whole head, or ALiBi
// when `alibi` (then no rotary), tied head by default.
// GGUF "falcon": llama.cpp regroups query_key_value into [q | k | v] (attn_qkv); put back on load.
#include <cmath>

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
    KITE_RETURN_IF_ERROR(read_int(j, {"num_hidden_layers", "n_layer"}, src, c.num_layers, true, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"num_attention_heads", "n_head"}, src, c.num_heads, true, 1));
    if (c.hidden_size % c.num_heads != 0)
        return invalid_argument(src + ": hidden_size = " + std::to_string(c.hidden_size) +
                                " is not a multiple of num_attention_heads = " + std::to_string(c.num_heads));
    c.head_dim = static_cast<int>(c.hidden_size / c.num_heads);
    c.max_position_embeddings = 2048;
    KITE_RETURN_IF_ERROR(read_int(j, {"max_position_embeddings"}, src, c.max_position_embeddings, false, 1));
    c.tie_word_embeddings = true;
    KITE_RETURN_IF_ERROR(read_bool(j, {"tie_word_embeddings"}, src, c.tie_word_embeddings));
    KITE_RETURN_IF_ERROR(read_common_ids(j, src, c));
    KITE_RETURN_IF_ERROR(read_rope(j, src, c.max_position_embeddings, c.rope_theta, c.rope_scaling));
    bool new_arch = false, multi_query = true, parallel = true, bias = false, alibi = false;
    KITE_RETURN_IF_ERROR(read_bool(j, {"new_decoder_architecture"}, src, new_arch));
    KITE_RETURN_IF_ERROR(read_bool(j, {"multi_query"}, src, multi_query));
    KITE_RETURN_IF_ERROR(read_bool(j, {"parallel_attn"}, src, parallel));
    KITE_RETURN_IF_ERROR(read_bool(j, {"bias"}, src, bias));
    KITE_RETURN_IF_ERROR(read_bool(j, {"alibi"}, src, alibi));
    int num_kv = c.num_heads, num_ln = new_arch ? 2 : 1;
    KITE_RETURN_IF_ERROR(read_int(j, {"num_kv_heads"}, src, num_kv, false, 1));
    KITE_RETURN_IF_ERROR(read_int(j, {"num_ln_in_parallel_attn"}, src, num_ln, false, 1));
    c.intermediate_size = 4 * c.hidden_size;
    KITE_RETURN_IF_ERROR(read_int(j, {"ffn_hidden_size"}, src, c.intermediate_size, false, 1));
    c.hidden_act = "gelu";
    KITE_RETURN_IF_ERROR(read_string(j, {"activation"}, src, c.hidden_act));
    float eps = 1e-5f;
    KITE_RETURN_IF_ERROR(read_float(j, {"layer_norm_epsilon"}, src, eps));
    if (new_arch && !parallel)
        return invalid_argument(src + ": new_decoder_architecture with parallel_attn false is not a Falcon layout "
                                      "transformers can run");
    if (new_arch && num_ln != 1 && num_ln != 2)
        return invalid_argument(src + ": num_ln_in_parallel_attn must be 1 or 2");
    c.num_kv_heads = new_arch ? num_kv : (multi_query ? 1 : c.num_heads);
    if (c.num_heads % c.num_kv_heads != 0)
        return invalid_argument(src + ": num_kv_heads = " + std::to_string(c.num_kv_heads) +
                                " does not divide num_attention_heads = " + std::to_string(c.num_heads));

    DecoderSpec d;
    d.config = c;
    d.base_prefix = "transformer.";
    d.embed.tokens = "transformer.word_embeddings.weight";
    if (!alibi) {
        RopeSpec r;
        r.rot_dim = c.head_dim;
        r.theta = c.rope_theta;
        r.scaling = c.rope_scaling;
        r.max_position_embeddings = c.max_position_embeddings;
        d.rope.push_back(r);
    }
    // transformers' eager attention adds Falcon's ALiBi (bf16 slope x position, rounded to bf16)
    // twice: inside the scores before the 1/sqrt(d) scale and once more through the causal mask.
    const std::vector<float> slopes = alibi ? ops::alibi_slopes(c.num_heads) : std::vector<float>{};
    const int64_t H = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = "transformer.h." + std::to_string(l) + ".";
        LayerSpec L;
        if (new_arch) {
            L.residual = Residual::kParallel;
            L.attn_norm = NormSpec::layer(p + (num_ln == 2 ? "ln_attn" : "input_layernorm"), eps);
            if (num_ln == 2) L.mlp_norm = NormSpec::layer(p + "ln_mlp", eps);
        } else {
            L.residual = parallel ? Residual::kParallel : Residual::kSequential;
            L.attn_norm = NormSpec::layer(p + "input_layernorm", eps);
            if (!parallel) L.mlp_norm = NormSpec::layer(p + "post_attention_layernorm", eps);
        }
        AttentionSpec& a = L.attn;
        a.num_heads = c.num_heads;
        a.num_kv_heads = c.num_kv_heads;
        a.head_dim = c.head_dim;
        a.qkv = LinearSpec::of({p + "self_attention.query_key_value"}, {(c.num_heads + 2 * c.num_kv_heads) * D}, H, bias);
        if (new_arch) a.qkv.row_order = qkv_order_per_group(c.num_kv_heads, c.num_heads / c.num_kv_heads, c.head_dim);
        else if (!multi_query) a.qkv.row_order = qkv_order_per_head(c.num_heads, c.head_dim);
        a.o = LinearSpec::of({p + "self_attention.dense"}, {H}, H, bias);
        a.rope = alibi ? -1 : 0;
        a.alibi_slopes = slopes;
        a.alibi_falcon_bf16 = alibi;
        L.mlp = MlpSpec::plain(p + "mlp.dense_h_to_4h", p + "mlp.dense_4h_to_h", H, I, bias, c.hidden_act);
        d.layers.push_back(std::move(L));
    }
    d.final_norm = NormSpec::layer("transformer.ln_f", eps);
    return d;
}

constexpr GgufArch::NamePair kGlobals[] = {
    {"transformer.word_embeddings.weight", "token_embd.weight"},
    {"transformer.ln_f.weight", "output_norm.weight"},
    {"transformer.ln_f.bias", "output_norm.bias"},
    {"lm_head.weight", "output.weight"},
};
constexpr GgufArch::NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"input_layernorm.bias", "attn_norm.bias"},
    {"ln_attn.weight", "attn_norm_2.weight"},  // llama.cpp: attn_norm_2 feeds attention in Falcon-40B
    {"ln_attn.bias", "attn_norm_2.bias"},
    {"ln_mlp.weight", "attn_norm.weight"},       // and attn_norm the MLP
    {"ln_mlp.bias", "attn_norm.bias"},
    {"self_attention.query_key_value.weight", "attn_qkv.weight"},
    {"self_attention.query_key_value.bias", "attn_qkv.bias"},
    {"self_attention.dense.weight", "attn_output.weight"},
    {"self_attention.dense.bias", "attn_output.bias"},
    {"mlp.dense_h_to_4h.weight", "ffn_up.weight"},
    {"mlp.dense_h_to_4h.bias", "ffn_up.bias"},
    {"mlp.dense_4h_to_h.weight", "ffn_down.weight"},
    {"mlp.dense_4h_to_h.bias", "ffn_down.bias"},
};

// llama.cpp's falcon graph: parallel attention; one K/V head = the 7B layout, else the grouped
// (new_decoder_architecture) one, with ln_attn + ln_mlp when attn_norm_2 is stored.
Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    const bool two_norms = f.find_tensor("blk.0.attn_norm_2.weight") != nullptr;
    const int64_t heads = cfg.value("num_attention_heads", int64_t{1}), kv = cfg.value("num_key_value_heads", heads);
    cfg["new_decoder_architecture"] = two_norms || kv != 1;
    cfg["num_ln_in_parallel_attn"] = two_norms ? 2 : 1;
    cfg["multi_query"] = kv == 1;
    cfg["num_kv_heads"] = kv;
    cfg["parallel_attn"] = true;
    cfg["bias"] = f.find_tensor("blk.0.attn_qkv.bias") != nullptr;
    if (cfg.contains("layer_norm_eps")) cfg["layer_norm_epsilon"] = cfg["layer_norm_eps"];
    if (cfg.contains("intermediate_size")) cfg["ffn_hidden_size"] = cfg["intermediate_size"];
    return Status::ok();
}

// The converter regroups query_key_value into [q | k | v] (jploski's layout); back to kv groups here.
Result<Tensor> gguf_to_hf(const GgufFile& file, const nlohmann::json& cfg, const std::string& name, Tensor t) {
    if (name.find(".attn_qkv.") == std::string::npos || !cfg.value("new_decoder_architecture", false)) return t;
    const int64_t heads = cfg.value("num_attention_heads", int64_t{1}), kv = cfg.value("num_kv_heads", int64_t{1});
    const int64_t rows = t.dim(0);
    if (kv <= 0 || heads % kv != 0 || rows % (heads + 2 * kv) != 0)
        return invalid_argument(file.path() + ": tensor " + name + " has " + std::to_string(rows) + " rows, not (" +
                                std::to_string(heads) + " + 2 x " + std::to_string(kv) + ") heads");
    const int D = static_cast<int>(rows / (heads + 2 * kv));
    return permute_rows(t, inverse_order(qkv_order_per_group(static_cast<int>(kv), static_cast<int>(heads / kv), D)));
}

const GgufArch kGguf{"falcon", kGlobals, "transformer.h.", kLayer, &gguf_config, &gguf_to_hf};

}  // namespace

extern const ArchDef kFalconArch{"FalconForCausalLM", "falcon", &describe, &kGguf};

}  // namespace kite
