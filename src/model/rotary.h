// Rotary position embedding tables: inverse frequencies per rope_scaling type (none, linear,
// dynamic NTK, llama3, yarn, longrope) computed as transformers' modeling_rope_utils does, and
// cos/sin rows per token. One table per distinct (base, dims, scaling) a model uses: Gemma 3's local
// layers have their own base, so a model may hold several (model/blocks/decoder_spec.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/model_config.h"

namespace kite {

struct RopeSpec {
    int rot_dim = 0;           // rotated dims of each head (head_dim * partial_rotary_factor, even)
    float theta = 10000.0f;    // base
    RopeScaling scaling;
    int max_position_embeddings = 2048;
    bool interleaved = false;  // pairs (2i, 2i+1) (GPT-J, GLM) instead of (i, i + rot_dim/2)

    // The usual table of a Llama-style config: rot_dim from head_dim and partial_rotary_factor
    // (transformers: int(head_dim * factor)), base rope_theta, rope_scaling.
    static RopeSpec from_config(const ModelConfig& c);
};

class RotaryEmbedding {
public:
    explicit RotaryEmbedding(const RopeSpec& spec);
    const RopeSpec& spec() const { return spec_; }
    int rot_dim() const { return spec_.rot_dim; }
    // cos/sin [positions.size(), rot_dim/2]. `seq_len` = the longest position + 1 of the sequence
    // these tokens belong to (dynamic NTK rescales the base past max_position_embeddings; longrope
    // switches to its long factors past original_max_position_embeddings).
    void compute(std::span<const int32_t> positions, int64_t seq_len, float* cos, float* sin) const;

private:
    std::vector<float> inv_freq_for(int64_t seq_len) const;
    RopeSpec spec_;
    std::vector<float> inv_freq_;
    std::vector<float> long_inv_freq_;  // longrope past original_max_position_embeddings
    float attention_factor_ = 1.0f;
};

}  // namespace kite
