// The model interface the engine runs: one forward step over a ForwardBatch, writing new K/V into
// the paged cache and returning logits. Architectures implement it in model/arch/<name>.cpp and
// are registered in model/registry.cpp; callers load models through load_model().
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "model/forward_batch.h"
#include "model/kv_cache.h"
#include "model/model_config.h"

namespace kite {

class Model {
public:
    virtual ~Model() = default;
    virtual const ModelConfig& config() const = 0;
    // Runs the batch; logits get shape [rows, vocab] f32, rows = logits_indices.size() (or num_tokens).
    virtual Status forward(const ForwardBatch& batch, KvCache& kv, Tensor& logits) = 0;
    // Where the weights live and the forward runs (LoadOptions::device).
    virtual Device device() const { return Device::kCpu; }
    // Bytes of weights one decode step reads: every weight once, the embedding table only by row
    // (the memory-bandwidth bound of `kite bench`). 0 when unknown.
    virtual int64_t weight_bytes_per_step() const { return 0; }
    // The KV shape this model needs for `num_blocks` blocks of `block_size` tokens, on its device.
    KvCacheShape kv_shape(int num_blocks, int block_size) const;
};

struct LoadOptions {
    // Store every linear/embedding weight as f32 at load (GGUF blocks dequantized, f16/bf16 widened)
    // instead of computing on the stored form. Same results either way (ops/quant.h is bit-exact);
    // the stored form takes the file's size in memory and streams fewer bytes per decode step.
    // Weights on a CUDA device are always f32.
    bool dequantize_at_load = false;
    // Random weights from config.json alone (benchmarks of real shapes without a checkpoint).
    bool dummy_weights = false;
    uint64_t dummy_seed = 0;
    // Where the weights live and the forward runs. kCuda (a KITE_CUDA build) copies every weight to
    // the GPU at load; the KV cache must then be on the GPU too (KvCacheShape::device). Logits still
    // come back to the host for sampling.
    Device device = Device::kCpu;
};

// A model folder (config.json + *.safetensors) or a .gguf file.
Result<std::unique_ptr<Model>> load_model(const std::string& path, const LoadOptions& options = {});
// Generation defaults beside the model (generation_config.json, GGUF metadata); empty if none.
GenerationDefaults load_generation_defaults(const std::string& path);

}  // namespace kite
