// The model interface the engine runs: one forward step over a ForwardBatch, writing new K/V into
// the paged cache and returning logits. Architectures describe themselves in model/arch/<name>.cpp
// (registered in model/registry.cpp) and run as a DecoderModel (model/blocks/decoder.h); callers
// load models through load_model().
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "model/forward_batch.h"
#include "model/kv_cache.h"
#include "model/model_config.h"

namespace kite {

class Tokenizer;

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
    // The KV shape this model needs for `num_blocks` blocks of `block_size` tokens, on its device
    // (by default num_kv_heads x head_dim of the config; a mixer with another cache layout overrides).
    virtual KvCacheShape kv_shape(int num_blocks, int block_size) const;
    // K/V in 8 bits (LoadOptions::kv_cache_dtype); kv_shape() carries it to every cache made.
    void set_kv_cache_dtype(ops::KvCacheDtype d) { kv_cache_dtype_ = d; }

protected:
    ops::KvCacheDtype kv_cache_dtype_ = ops::KvCacheDtype::kAuto;
};

struct LoadOptions {
    // Keep GGUF weights in their quantized blocks and compute on them (else dequantize at load).
    bool keep_quantized = false;
    // Random weights from config.json alone (benchmarks of real shapes without a checkpoint).
    bool dummy_weights = false;
    uint64_t dummy_seed = 0;
    // Where the weights live and the forward runs. kCuda (a KITE_CUDA build) copies every weight to
    // the GPU at load; the KV cache must then be on the GPU too (KvCacheShape::device). Logits still
    // come back to the host for sampling.
    Device device = Device::kCpu;
    // Load-time weight-only quantization of every linear but the output head (--quantization, as
    // rtp-llm's INT8/INT4 and vLLM's RTN): 0 (none), 8 (INT8, one scale per output channel unless
    // quant_group_size > 0) or 4 (INT4, groups of quant_group_size inputs); symmetric unless
    // quant_zero_point. Checkpoints that are already quantized (GPTQ / AWQ) refuse it.
    int quant_bits = 0;
    // --kv-cache-dtype: f32 (kAuto), or int8 / fp8 codes with a scale per token and KV head (CPU).
    ops::KvCacheDtype kv_cache_dtype = ops::KvCacheDtype::kAuto;
    int64_t quant_group_size = 0;
    bool quant_zero_point = false;
};

// A model folder (config.json + *.safetensors) or a .gguf file.
Result<std::unique_ptr<Model>> load_model(const std::string& path, const LoadOptions& options = {});
// Everything a checkpoint holds, from one opening of its path: the model, its generation defaults
// and its tokenizer (from the GGUF metadata, or the folder's tokenizer.json).
struct Checkpoint {
    std::unique_ptr<Model> model;
    GenerationDefaults defaults;
    std::shared_ptr<Tokenizer> tokenizer;  // null when the checkpoint has none
    std::string tokenizer_error;           // why it is null
};
// `load_tokenizer` false: leave the tokenizer out (another one is named, or none is needed).
Result<Checkpoint> load_checkpoint(const std::string& path, const LoadOptions& options, bool load_tokenizer = true);

}  // namespace kite
