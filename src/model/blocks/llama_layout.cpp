#include "model/blocks/llama_layout.h"

namespace kite {

std::string layer_prefix(int l) { return "model.layers." + std::to_string(l) + "."; }

DecoderSpec llama_layout(const ModelConfig& c) {
    DecoderSpec d;
    d.config = c;
    d.rope.push_back(RopeSpec::from_config(c));
    const int64_t H = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
    const int64_t q_rows = int64_t(c.num_heads) * D, kv_rows = int64_t(c.num_kv_heads) * D;
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = layer_prefix(l), a = p + "self_attn.", m = p + "mlp.";
        LayerSpec L;
        L.attn_norm = NormSpec::rms(p + "input_layernorm", c.rms_norm_eps);
        L.mlp_norm = NormSpec::rms(p + "post_attention_layernorm", c.rms_norm_eps);
        AttentionSpec& at = L.attn;
        at.num_heads = c.num_heads;
        at.num_kv_heads = c.num_kv_heads;
        at.head_dim = c.head_dim;
        at.qkv = LinearSpec::of({a + "q_proj", a + "k_proj", a + "v_proj"}, {q_rows, kv_rows, kv_rows}, H,
                                c.attention_bias);
        at.o = LinearSpec::of({a + "o_proj"}, {H}, q_rows, c.attention_bias);
        at.rope = 0;
        L.mlp.up = LinearSpec::of({m + "gate_proj", m + "up_proj"}, {I, I}, H, c.mlp_bias);
        L.mlp.down = LinearSpec::of({m + "down_proj"}, {H}, I, c.mlp_bias);
        L.mlp.act = c.hidden_act;
        d.layers.push_back(std::move(L));
    }
    d.final_norm = NormSpec::rms("model.norm", c.rms_norm_eps);
    d.base_prefix = "model.";
    return d;
}

const GgufArch::NamePair kLlamaGgufGlobals[3] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

const GgufArch::NamePair kLlamaGgufLayer[19] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.experts.gate_proj", "ffn_gate_exps.weight"},
    {"mlp.experts.up_proj", "ffn_up_exps.weight"},
    {"mlp.experts.down_proj", "ffn_down_exps.weight"},
};

}  // namespace kite
