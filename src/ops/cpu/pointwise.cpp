// Pointwise kernels: activations, gated (act(gate) * up) and in place, scaling, soft-capping and
// the residual add. Each element depends on its inputs alone, so batching cannot change a bit.
#include <algorithm>

#include "core/parallel.h"
#include "ops/activation_math.h"
#include "ops/cpu/kernels.h"

namespace kite::ops::cpu {

namespace {

constexpr int64_t kMinElemsPerChunk = int64_t(1) << 15;  // below this a thread hand-off costs more than it saves

template <typename F>
void for_each_chunk(int64_t n, F&& f) {
    parallel_for(n, kMinElemsPerChunk, [&](int64_t b, int64_t e) { f(b, e); });
}

template <Activation A>
void act_mul_rows(const float* gate_up, int64_t T, int64_t n, float* out) {
    parallel_for(T, std::max<int64_t>(1, kMinElemsPerChunk / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            const float* g = gate_up + t * 2 * n;
            const float* u = g + n;
            float* o = out + t * n;
            for (int64_t i = 0; i < n; ++i) o[i] = activate(A, g[i]) * u[i];
        }
    });
}

template <Activation A>
void activation_span(float* x, int64_t n) {
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] = activate(A, x[i]);
    });
}

}  // namespace

// One instantiation per activation, so the switch is outside the loops.
void act_mul(const float* gate_up, int64_t T, int64_t n, Activation act, float* out) {
    switch (act) {
        case Activation::kSilu: return act_mul_rows<Activation::kSilu>(gate_up, T, n, out);
        case Activation::kGelu: return act_mul_rows<Activation::kGelu>(gate_up, T, n, out);
        case Activation::kGeluTanh: return act_mul_rows<Activation::kGeluTanh>(gate_up, T, n, out);
        case Activation::kQuickGelu: return act_mul_rows<Activation::kQuickGelu>(gate_up, T, n, out);
        case Activation::kRelu: return act_mul_rows<Activation::kRelu>(gate_up, T, n, out);
        case Activation::kRelu2: return act_mul_rows<Activation::kRelu2>(gate_up, T, n, out);
    }
}

void activation(float* x, int64_t n, Activation act) {
    switch (act) {
        case Activation::kSilu: return activation_span<Activation::kSilu>(x, n);
        case Activation::kGelu: return activation_span<Activation::kGelu>(x, n);
        case Activation::kGeluTanh: return activation_span<Activation::kGeluTanh>(x, n);
        case Activation::kQuickGelu: return activation_span<Activation::kQuickGelu>(x, n);
        case Activation::kRelu: return activation_span<Activation::kRelu>(x, n);
        case Activation::kRelu2: return activation_span<Activation::kRelu2>(x, n);
    }
}

void scale(float* x, int64_t n, float s) {
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] *= s;
    });
}

void soft_cap(float* x, int64_t n, float cap) {
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] = soft_cap_value(x[i], cap);
    });
}

void add_inplace(float* x, const float* y, int64_t n) {
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] += y[i];
    });
}

}  // namespace kite::ops::cpu
