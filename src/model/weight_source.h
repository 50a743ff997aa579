// Where a model's weights come from, by Hugging Face tensor name: safetensors files (one or
// sharded) or a GGUF file whose llama.cpp names and layouts are mapped back to Hugging Face's.
// The architecture code asks for names and shapes; it never knows the file format.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/tensor.h"

namespace kite {

class GgufFile;

class WeightSource {
public:
    virtual ~WeightSource() = default;
    virtual bool has(const std::string& hf_name) const = 0;
    // The tensor as stored (f32/f16/bf16 or a GGUF block-quantized type), row-major, shape in
    // Hugging Face order ([out, in] for a linear weight). May view memory-mapped data.
    virtual Result<Tensor> get(const std::string& hf_name) const = 0;
    // Where the tensor lives, for error messages ("model-00001-of-00002.safetensors").
    virtual std::string location(const std::string& hf_name) const = 0;
    // The model description as config.json holds it (for GGUF: built from its metadata).
    virtual const nlohmann::json& config_json() const = 0;
    // generation_config.json equivalent; null if none.
    virtual const nlohmann::json& generation_config_json() const = 0;
    // The GGUF file behind the source (its tokenizer lives in its metadata); null for safetensors.
    virtual const GgufFile* gguf_file() const { return nullptr; }
};

// A folder with config.json and model.safetensors or model.safetensors.index.json + shards.
Result<std::unique_ptr<WeightSource>> open_safetensors_folder(const std::string& dir);
// A .gguf file (implemented in model/gguf_source.cpp on top of io/gguf.h).
Result<std::unique_ptr<WeightSource>> open_gguf_source(const std::string& path);

}  // namespace kite
