// Pointwise kernels: activations, gated (act(gate) * up) and in place, scaling, soft-capping and
// the residual add. Each element depends on its inputs alone, so batching cannot change a bit.
#include <immintrin.h>

#include <algorithm>

#include "core/parallel.h"
#include "ops/activation_math.h"
#include "ops/cpu/avx_math.h"
#include "ops/cpu/kernels.h"

namespace kite::ops::cpu {

namespace {

constexpr int64_t kMinElemsPerChunk = int64_t(1) << 15;  // below this a thread hand-off costs more than it saves

template <typename F>
void for_each_chunk(int64_t n, F&& f) {
    parallel_for(n, kMinElemsPerChunk, [&](int64_t b, int64_t e) { f(b, e); });
}

// act(x) for 8 lanes (ops/cpu/avx_math.h). The scalar formulas in ops/activation_math.h define
// the activations (the CUDA kernels run them); these agree with them to a few ulp.
template <Activation A>
inline __m256 act8(__m256 x) {
    if constexpr (A == Activation::kSilu) return mul_sigmoid(x, x);
    if constexpr (A == Activation::kGelu) return gelu_erf8(x);
    if constexpr (A == Activation::kGeluTanh) return gelu_tanh8(x);
    if constexpr (A == Activation::kQuickGelu) return mul_sigmoid(x, _mm256_mul_ps(_mm256_set1_ps(1.702f), x));
    const __m256 r = _mm256_max_ps(x, _mm256_setzero_ps());
    if constexpr (A == Activation::kRelu2) return _mm256_mul_ps(r, r);
    return r;
}

// o[i] = act(g[i]) (* u[i] when u is given) for i < n: whole vectors, then one masked vector, so
// every element goes through the same lane arithmetic wherever it sits.
template <Activation A>
inline void act_span(const float* g, const float* u, int64_t n, float* o) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 y = act8<A>(_mm256_loadu_ps(g + i));
        if (u != nullptr) y = _mm256_mul_ps(y, _mm256_loadu_ps(u + i));
        _mm256_storeu_ps(o + i, y);
    }
    if (i < n) {
        const __m256i m = lane_mask(n - i);
        __m256 y = act8<A>(_mm256_maskload_ps(g + i, m));
        if (u != nullptr) y = _mm256_mul_ps(y, _mm256_maskload_ps(u + i, m));
        _mm256_maskstore_ps(o + i, m, y);
    }
}

template <Activation A>
void act_mul_rows(const float* gate_up, int64_t T, int64_t n, float* out) {
    parallel_for(T, std::max<int64_t>(1, kMinElemsPerChunk / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) act_span<A>(gate_up + t * 2 * n, gate_up + t * 2 * n + n, n, out + t * n);
    });
}

template <Activation A>
void activation_span(float* x, int64_t n) {
    for_each_chunk(n, [&](int64_t b, int64_t e) { act_span<A>(x + b, nullptr, e - b, x + b); });
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
    const __m256 vcap = _mm256_set1_ps(cap);
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        int64_t i = b;
        for (; i + 8 <= e; i += 8) _mm256_storeu_ps(x + i, soft_cap8(_mm256_loadu_ps(x + i), vcap));
        if (i < e) {
            const __m256i m = lane_mask(e - i);
            _mm256_maskstore_ps(x + i, m, soft_cap8(_mm256_maskload_ps(x + i, m), vcap));
        }
    });
}

void add_inplace(float* x, const float* y, int64_t n) {
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] += y[i];
    });
}

}  // namespace kite::ops::cpu
