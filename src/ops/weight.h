// A linear layer's weight as the ops see it: [out_features, in_features] row-major, dense f32 or
// stored in GGUF block-quantized rows. Later kinds (int8 per channel, int4 grouped, fp8) become
// more dtypes or fields here, so call sites of ops::linear do not change (shared/ROADMAP.md).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace kite {

struct Weight {
    Tensor t;
    int64_t out_features() const { return t.dim(0); }
    int64_t in_features() const { return t.dim(1); }
};

}  // namespace kite
