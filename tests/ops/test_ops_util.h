// Helpers of the op tests: seeded random tensors and copies in and out of them.
#pragma once

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "core/tensor.h"

namespace kite::ops::testing {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(gen);
    return v;
}

inline Tensor tensor_of(const std::vector<float>& v, std::vector<int64_t> shape) {
    Tensor t = Tensor::zeros(DType::kF32, std::move(shape));
    if (static_cast<int64_t>(v.size()) != t.numel()) std::abort();  // a test bug, not a kernel one
    std::memcpy(t.data<float>(), v.data(), v.size() * sizeof(float));
    return t;
}

inline std::vector<float> values_of(const Tensor& t) {
    return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

}  // namespace kite::ops::testing
