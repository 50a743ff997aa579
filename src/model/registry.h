// Architectures kite can run, by Hugging Face name. Each lives in one file, model/arch/<family>.cpp,
// which defines an ArchDef: how to read its config.json into a DecoderSpec (the block description
// DecoderModel runs) and, where llama.cpp stores the family, how its GGUF files map to Hugging Face
// names. registry.cpp lists them, one line each.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "core/tensor.h"
#include "model/blocks/decoder_spec.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace kite {

class GgufFile;

// How llama.cpp stores a family (general.architecture = name). Hugging Face tensor names map to
// GGUF ones by table: `globals` whole names, `layer` the part after "<layer_prefix>N." (becoming
// "blk.N." + the GGUF part). gguf_source.cpp turns the common metadata (<name>.embedding_length,
// block_count, head counts, context, rope base and dims, norm eps, vocab, special ids) into
// config.json fields; `config` adds the family's own; `to_hf` undoes a converter's reordering of a
// tensor so that get() returns Hugging Face layout.
struct GgufArch {
    using NamePair = std::pair<const char*, const char*>;  // {Hugging Face, GGUF}
    const char* name;
    std::span<const NamePair> globals;
    const char* layer_prefix;  // "model.layers."
    std::span<const NamePair> layer;
    Status (*config)(const GgufFile& file, nlohmann::json& cfg) = nullptr;
    Result<Tensor> (*to_hf)(const GgufFile& file, const nlohmann::json& cfg, const std::string& gguf_name,
                            Tensor t) = nullptr;
};

struct ArchDef {
    const char* hf_name;  // config.json "architectures"[0], e.g. "Phi3ForCausalLM"
    const char* model_type;  // config.json "model_type" (written into configs built from GGUF metadata)
    // config.json -> the block description; `src` names the file in errors.
    Result<DecoderSpec> (*describe)(const nlohmann::json& config, const std::string& src);
    const GgufArch* gguf = nullptr;  // null: no GGUF mapping
};

// Null when the architecture is unknown.
const ArchDef* find_architecture(const std::string& hf_name);
// The architecture a GGUF general.architecture names; null when unmapped.
const ArchDef* find_gguf_architecture(const std::string& gguf_name);
std::string supported_architectures();       // "LlamaForCausalLM, MistralForCausalLM, ..."
std::string supported_gguf_architectures();  // "llama, mistral, ..."

}  // namespace kite
