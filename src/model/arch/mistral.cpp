// MistralForCausalLM: the Llama layout with sliding_window on every layer (when set).
// GGUF "mistral" is stored as llama.cpp's llama (Q/K rows permuted).
#include <nlohmann/json.hpp>

#include "model/blocks/llama_layout.h"
#include "model/registry.h"

namespace kite {

Result<Tensor> llama_gguf_unpermute_qk(const GgufFile& file, const nlohmann::json& cfg, const std::string& name,
                                       Tensor t);  // arch/llama.cpp

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    DecoderSpec d = llama_layout(c);
    for (LayerSpec& L : d.layers) L.attn.sliding_window = c.sliding_window;
    return d;
}

const GgufArch kMistralGguf{"mistral", kLlamaGgufGlobals, "model.layers.", kLlamaGgufLayer, nullptr,
                            &llama_gguf_unpermute_qk};

}  // namespace

extern const ArchDef kMistralArch{"MistralForCausalLM", "mistral", &describe, &kMistralGguf};

}  // namespace kite
