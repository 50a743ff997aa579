// Dense MLP block: gated (act(gate) * up, then down: SwiGLU, GeGLU; gate and up stored apart and
// stacked at load, or fused as one [gate | up] tensor) or plain (fc, act, proj: GPT-NeoX, Falcon,
// StarCoder, Phi-2, Bloom), biases optional. act is a transformers ACT2FN name.
#pragma once

#include <string>

#include "model/blocks/block.h"
#include "ops/ops.h"

namespace kite {

struct MlpSpec {
    LinearSpec up;     // gated: rows [gate (I) | up (I)]; plain: [I]
    LinearSpec down;   // [hidden, I]
    bool gated = true;
    std::string act = "silu";

    // The non-gated up -> act -> down MLP (GPT-2 style) of the GELU families.
    static MlpSpec plain(const std::string& up, const std::string& down, int64_t hidden, int64_t inter, bool bias,
                         const std::string& act) {
        return {LinearSpec::of({up}, {inter}, hidden, bias), LinearSpec::of({down}, {hidden}, inter, bias), false, act};
    }
};

class MlpBlock final : public FeedForwardBlock {
public:
    // An unknown activation name is an error listing the supported ones.
    static Result<std::unique_ptr<FeedForwardBlock>> load(const MlpSpec& spec, WeightLoader& loader);
    Status forward(const Tensor& x, StepContext& ctx, Tensor& out) override;
    void tensors(TensorList& out) override;

private:
    MlpSpec spec_;
    ops::Activation act_{};
    Linear up_, down_;
};

}  // namespace kite
