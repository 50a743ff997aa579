// Architectures kite can run, by Hugging Face name. registry.cpp holds the only table that knows
// them all; each entry adjusts the parsed config for its family and builds the model.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace kite {

using MakeModelFn = Result<std::unique_ptr<Model>> (*)(const ModelConfig&, const WeightSource&, const LoadOptions&);
using AdjustConfigFn = Status (*)(ModelConfig&, const nlohmann::json& config_json);

struct ArchEntry {
    const char* hf_name;
    AdjustConfigFn adjust;  // family facts config.json leaves implicit (Qwen2's q/k/v bias); may be null
    MakeModelFn make;
};

// Null when the architecture is unknown.
const ArchEntry* find_architecture(const std::string& hf_name);
std::string supported_architectures();  // "LlamaForCausalLM, MistralForCausalLM, ..."

// model/arch/llama.cpp: the Llama-family decoder (Llama, Mistral, Qwen2, Qwen3 via config fields).
Result<std::unique_ptr<Model>> make_llama(const ModelConfig& config, const WeightSource& source, const LoadOptions& options);
// model/arch/qwen.cpp
Status adjust_qwen2(ModelConfig& config, const nlohmann::json& config_json);
Status adjust_qwen3(ModelConfig& config, const nlohmann::json& config_json);

}  // namespace kite
