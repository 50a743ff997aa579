// Norm block: RMSNorm (Llama), Gemma's RMSNorm with a (1 + w) scale, or LayerNorm with or without
// bias (GPT-NeoX, Falcon, Bloom, StarCoder, Phi-2). Placement (pre, post, sandwich, parallel) is the
// decoder's (blocks/decoder_spec.h); this block only normalises rows.
#pragma once

#include <string>

#include "model/blocks/block.h"

namespace kite {

struct NormSpec {
    enum class Kind { kNone, kRms, kLayer };
    Kind kind = Kind::kNone;
    std::string weight;  // tensor name of the scale
    std::string bias;    // LayerNorm bias tensor name; empty: no bias
    float eps = 1e-6f;
    // Gemma stores w and scales by (1 + w): added to the loaded weight once.
    float weight_offset = 0.0f;

    bool defined() const { return kind != Kind::kNone; }
    static NormSpec rms(std::string module, float eps, float weight_offset = 0.0f);
    static NormSpec layer(std::string module, float eps, bool bias = true);
};

class Norm {
public:
    // n: the normalised width (hidden size, or head_dim for per-head q/k norms).
    static Result<Norm> load(const NormSpec& spec, WeightLoader& loader, int64_t n);
    bool defined() const { return spec_.defined(); }
    // out = norm(x) row by row; x and out may alias. x: [rows, n].
    Status forward(const Tensor& x, Tensor& out) const;
    // residual += x; out = norm(residual) (the fused pre-norm step).
    Status add_forward(Tensor& residual, const Tensor& x, Tensor& out) const;
    void tensors(TensorList& out) { out.push_back(&w_); out.push_back(&b_); }

private:
    NormSpec spec_;
    Tensor w_, b_;
};

}  // namespace kite
