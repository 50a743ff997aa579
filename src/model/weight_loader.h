// Loads named weights with the shape an architecture expects, into the form the ops compute on:
// f32 (converted from f16/bf16, or dequantized) or, with keep_quantized, GGUF blocks as stored.
// With dummy_weights it makes seeded random weights instead (benchmarks of real shapes). Linears
// may also come packed from GPTQ / AWQ checkpoints (model/quant_checkpoint.h) or be quantized to
// INT8 / INT4 at load (LoadOptions::quant_bits); either way they reach the ops as a Weight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "model/model.h"
#include "model/quant_checkpoint.h"
#include "model/weight_source.h"
#include "ops/weight.h"

namespace kite {

class WeightLoader {
public:
    WeightLoader(const WeightSource* source, const LoadOptions& options) : source_(source), options_(options) {}

    bool has(const std::string& name) const;
    // Linear weights [out, in]; several names are stacked by rows into one weight (fused q|k|v).
    Result<Weight> linear(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t in);
    // Embedding table [vocab, hidden]; quantized rows may stay quantized.
    Result<Tensor> table(const std::string& name, int64_t rows, int64_t cols);
    // Always f32 (norm weights, biases); several names are concatenated.
    Result<Tensor> vector_f32(const std::vector<std::string>& names, const std::vector<int64_t>& sizes);
    // One tensor of any shape (stacked experts [E, rows, in]); f32, or GGUF blocks with keep_quantized.
    Result<Tensor> tensor(const std::string& name, const std::vector<int64_t>& shape);

private:
    Result<Tensor> fetch(const std::string& name, const std::vector<int64_t>& shape, bool allow_quantized);
    // One part of a linear: packed (GPTQ / AWQ) when the checkpoint stores it so, else as stored.
    Result<Weight> linear_part(const std::string& name, int64_t rows, int64_t in);
    Result<Weight> stack_dense(std::vector<Weight> parts, int64_t in);
    Status parse_quant_config();
    const WeightSource* source_;
    LoadOptions options_;
    bool quant_parsed_ = false;
    CheckpointQuant checkpoint_quant_;
};

// Fills p[0, n) with the dummy-weight values of `seed` (N(0, 0.02), or 1 where `ones`): a pure
// function of (seed, index), filled in parallel, identical for any thread count.
void fill_dummy(float* p, int64_t n, uint64_t seed, bool ones);

// Converts any stored dtype (f32/f16/bf16/quantized) into a fresh f32 tensor.
Result<Tensor> to_f32(const Tensor& t, const std::string& what);

}  // namespace kite
