// Rotary position embedding tables: inverse frequencies per rope_scaling type (none, linear,
// dynamic NTK, llama3, yarn) computed as transformers does, and cos/sin rows per token.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/model_config.h"

namespace kite {

class RotaryEmbedding {
public:
    explicit RotaryEmbedding(const ModelConfig& config);
    int rot_dim() const { return rot_dim_; }
    // cos/sin [positions.size(), rot_dim/2]. `seq_len` = the longest position + 1 of the sequence
    // these tokens belong to (dynamic NTK rescales the base past max_position_embeddings).
    void compute(std::span<const int32_t> positions, int64_t seq_len, float* cos, float* sin) const;

private:
    std::vector<float> inv_freq_for(int64_t seq_len) const;
    ModelConfig config_;
    int rot_dim_ = 0;
    std::vector<float> inv_freq_;
    float attention_factor_ = 1.0f;
};

}  // namespace kite
