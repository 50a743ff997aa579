// Qwen3ForCausalLM: the Llama layout with an RMSNorm over each head of q and k before rotary, an
// explicit head_dim, biases only with attention_bias; sliding layers as Qwen2.
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/registry.h"

namespace kite {

Status qwen_sliding_layers(const nlohmann::json& j, const std::string& src, DecoderSpec& d);  // arch/qwen2.cpp

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    DecoderSpec d = llama_layout(c);
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string a = layer_prefix(l) + "self_attn.";
        d.layers[l].attn.q_norm = NormSpec::rms(a + "q_norm", c.rms_norm_eps);
        d.layers[l].attn.k_norm = NormSpec::rms(a + "k_norm", c.rms_norm_eps);
    }
    KITE_RETURN_IF_ERROR(qwen_sliding_layers(j, src, d));
    return d;
}

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    if (f.find_tensor("blk.0.attn_q.bias") != nullptr) cfg["attention_bias"] = true;
    return Status::ok();
}

const GgufArch kQwen3Gguf{"qwen3", kLlamaGgufGlobals, "model.layers.", kLlamaGgufLayer, &gguf_config, nullptr};

}  // namespace

extern const ArchDef kQwen3Arch{"Qwen3ForCausalLM", "qwen3", &describe, &kQwen3Gguf};

}  // namespace kite
