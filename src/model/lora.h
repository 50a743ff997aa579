// LoRA adapters in Hugging Face PEFT's format (adapter_config.json + adapter_model.safetensors):
// per target module a down projection A [r, in] and an up projection B [out, r], added to the base
// layer's output as scale * B (A x), with scale = alpha / r (alpha / sqrt(r) with use_rslora) and
// per-module r / alpha from rank_pattern / alpha_pattern, as PEFT computes them.
//
// A batch may mix adapters: ForwardBatch::lora_ids names each sequence's adapter (an index into
// ForwardBatch::loras, -1 for none); the base GEMM runs once for all tokens and each sequence's
// low-rank product is added to its rows (Linear::forward with the step context).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace kite {

struct LoraModule {
    Tensor a;        // [r, in] f32
    Tensor b;        // [out, r] f32
    float scale = 1;
};

class LoraAdapter {
public:
    // `dir` holds adapter_config.json and adapter_model.safetensors. Errors name the file and what
    // is unsupported (DoRA, fan_in_fan_out, bias terms, modules_to_save).
    static Result<std::shared_ptr<const LoraAdapter>> load(const std::string& dir, std::string name);

    const std::string& name() const { return name_; }
    // Unique per loaded adapter (a reload gets a new one): salts the prefix-cache hashes, so KV
    // computed with one adapter is never reused for another or for the base model.
    uint64_t key() const { return key_; }
    int max_rank() const { return max_rank_; }
    // By the base module's name, e.g. "model.layers.0.self_attn.q_proj"; null when not adapted.
    const LoraModule* find(const std::string& module) const;
    size_t num_modules() const { return modules_.size(); }

private:
    std::string name_;
    uint64_t key_ = 0;
    int max_rank_ = 0;
    std::unordered_map<std::string, LoraModule> modules_;
};

// PEFT's pattern lookup for rank_pattern / alpha_pattern: the first key k with `module` matching
// "(.*\.)?(k)$". Exposed for tests.
const std::string* lora_pattern_key(const std::vector<std::string>& keys, const std::string& module);

// out[rows of tokens t0..t1) columns [col, col + B.rows)) += scale * B (A x_t), CPU f32.
Status lora_add(const LoraModule& m, const Tensor& x, int64_t t0, int64_t t1, Tensor& out, int64_t col);

}  // namespace kite
