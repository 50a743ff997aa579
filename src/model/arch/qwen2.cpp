// Qwen2ForCausalLM: the Llama layout with q/k/v biases (no o bias). The sliding window applies only
// with use_sliding_window, to layers from max_window_layers on (or as layer_types says).
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

// Qwen2 and Qwen3: which layers slide (transformers' Qwen2Config.layer_types).
Status qwen_sliding_layers(const nlohmann::json& j, const std::string& src, DecoderSpec& d) {
    const ModelConfig& c = d.config;
    bool use = false;
    int max_window_layers = 28;  // transformers' default
    KITE_RETURN_IF_ERROR(config::read_bool(j, {"use_sliding_window"}, src, use));
    KITE_RETURN_IF_ERROR(config::read_int(j, {"max_window_layers"}, src, max_window_layers, false, 0));
    std::vector<bool> sliding(c.num_layers, false);
    for (int l = 0; l < c.num_layers; ++l) sliding[l] = use && c.sliding_window > 0 && l >= max_window_layers;
    KITE_RETURN_IF_ERROR(config::read_layer_types(j, src, c.num_layers, sliding));
    for (int l = 0; l < c.num_layers; ++l) d.layers[l].attn.sliding_window = sliding[l] && use ? c.sliding_window : 0;
    return Status::ok();
}

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    c.attention_bias = true;
    DecoderSpec d = llama_layout(c);
    for (int l = 0; l < c.num_layers; ++l) d.layers[l].attn.o.biases.clear();
    KITE_RETURN_IF_ERROR(qwen_sliding_layers(j, src, d));
    return d;
}

Status gguf_config(const GgufFile& f, nlohmann::json& cfg) {
    if (f.find_tensor("blk.0.attn_q.bias") == nullptr)
        return invalid_argument(f.path() + ": qwen2 GGUF without blk.0.attn_q.bias (Qwen2 has q/k/v biases)");
    return Status::ok();
}

const GgufArch kQwen2Gguf{"qwen2", kLlamaGgufGlobals, "model.layers.", kLlamaGgufLayer, &gguf_config, nullptr};

}  // namespace

extern const ArchDef kQwen2Arch{"Qwen2ForCausalLM", "qwen2", &describe, &kQwen2Gguf};

}  // namespace kite
