// The scalar math of each Activation, in f32 as transformers' activations.py writes it: the
// definition the CUDA kernels run (compiled as device code) and the AVX2 CPU kernels
// (ops/cpu/avx_math.h) reproduce to a few ulp; tests compare both with double precision.
#pragma once

#include <math.h>

#include "ops/host_device.h"
#include "ops/ops.h"

namespace kite::ops {

KITE_HOST_DEVICE inline float activate(Activation act, float x) {
    switch (act) {
        case Activation::kSilu: return x / (1.0f + expf(-x));
        case Activation::kGelu: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        case Activation::kGeluTanh: {
            const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);  // sqrt(2/pi) (x + 0.044715 x^3)
            return 0.5f * x * (1.0f + tanhf(inner));
        }
        case Activation::kQuickGelu: return x / (1.0f + expf(-1.702f * x));
        case Activation::kRelu: return x > 0.0f ? x : 0.0f;
        case Activation::kRelu2: return x > 0.0f ? x * x : 0.0f;
    }
    return x;
}

KITE_HOST_DEVICE inline float soft_cap_value(float x, float cap) { return cap * tanhf(x / cap); }

}  // namespace kite::ops
