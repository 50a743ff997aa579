// Qwen2 and Qwen3 are the Llama decoder with family facts config.json does not spell out:
// Qwen2 has q/k/v biases (no o bias); Qwen3 drops them (unless attention_bias) and RMS-normalises
// each head of q and k before rotary.
#include <nlohmann/json.hpp>

#include "model/registry.h"

namespace kite {

Status adjust_qwen2(ModelConfig& c, const nlohmann::json&) {
    c.attention_bias = true;
    c.o_bias = false;
    return Status::ok();
}

Status adjust_qwen3(ModelConfig& c, const nlohmann::json&) {
    c.qk_norm = true;
    c.o_bias = c.attention_bias;
    return Status::ok();
}

}  // namespace kite
