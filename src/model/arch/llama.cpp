// LlamaForCausalLM: pre-norm RMSNorm, GQA attention with rotary (every rope_scaling kind),
// SwiGLU MLP; attention_bias / mlp_bias add biases. No sliding window (transformers' Llama has none).
// GGUF "llama": llama.cpp's converter permutes Q/K rows for its interleaved rotary; undone here.
#include <cstring>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/registry.h"

namespace kite {

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    c.sliding_window = 0;
    return llama_layout(c);
}

}  // namespace

// convert_hf_to_gguf stores row (h, i, j) of a head (half = head_dim/2, i < half, j < 2) at
// h*head_dim + 2i + j, taken from HF row h*head_dim + j*half + i (interleaved rotary pairs).
// Whole rows move, so quantized rows move block for block. Used by the Llama and Mistral files.
Result<Tensor> llama_gguf_unpermute_qk(const GgufFile& file, const nlohmann::json& cfg, const std::string& name,
                                       Tensor t) {
    const bool is_q = name.find(".attn_q.") != std::string::npos;
    const bool is_k = name.find(".attn_k.") != std::string::npos;
    if (!is_q && !is_k) return t;
    const int heads = is_q ? cfg.at("num_attention_heads").get<int>() : cfg.at("num_key_value_heads").get<int>();
    const int64_t rows = t.dim(0);
    if (heads <= 0 || rows % (2 * heads) != 0) {
        return invalid_argument(file.path() + ": tensor " + name + " has " + std::to_string(rows) +
                                " rows, not a multiple of 2 x " + std::to_string(heads) + " heads");
    }
    const int64_t head_dim = rows / heads, half = head_dim / 2;
    const int64_t row_bytes = t.nbytes() / rows;
    Tensor out = Tensor::zeros(t.dtype(), t.shape());
    const auto* src = t.data<uint8_t>();
    auto* dst = out.data<uint8_t>();
    for (int64_t h = 0; h < heads; ++h) {
        for (int64_t i = 0; i < half; ++i) {
            for (int64_t k = 0; k < 2; ++k) {
                const int64_t from = h * head_dim + 2 * i + k, to = h * head_dim + k * half + i;
                std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
            }
        }
    }
    return out;
}

Status llama_gguf_experts(const GgufFile& f, nlohmann::json& cfg);  // arch/mixtral.cpp: Mixtral stored as "llama"

const GgufArch kLlamaGguf{"llama", kLlamaGgufGlobals, "model.layers.", kLlamaGgufLayer, &llama_gguf_experts,
                          &llama_gguf_unpermute_qk};
extern const ArchDef kLlamaArch{"LlamaForCausalLM", "llama", &describe, &kLlamaGguf};

}  // namespace kite
