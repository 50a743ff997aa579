// The routed experts on the CPU, tokens grouped by expert: each expert's rows gather into one
// matrix, so its weights stream from memory once per step however many tokens chose it (once per
// token would multiply the bytes read by the batch). Each expert's rows go through the
// batch-invariant GEMM (ops/cpu/gemm.cpp), land in a per-(token, choice) slot, and each token then
// sums its slots in ascending expert id: a token's bits do not depend on who else chose its experts.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/moe_kernels.h"
#include "ops/quant.h"

namespace kite::ops::cpu {

namespace {

// rows [n, in] x one expert's matrix `rows_out` x `in` -> out [n, rows_out], f32 or stored blocks.
void expert_matmul(const float* x, int64_t n, int64_t in, const Tensor& stacked, int64_t e, int64_t rows_out,
                   float* out) {
    const int64_t bytes = dtype_bytes_for(stacked.dtype(), rows_out * in);
    const auto* base = static_cast<const uint8_t*>(stacked.raw()) + e * bytes;
    if (stacked.dtype() == DType::kF32) {
        gemm_nt_f32(x, n, in, reinterpret_cast<const float*>(base), rows_out, nullptr, out);
        return;
    }
    const Tensor w = Tensor::view(const_cast<uint8_t*>(base), stacked.dtype(), {rows_out, in}, nullptr);
    quant_matmul(x, n, in, w, out);
}

}  // namespace

void moe_experts(const float* x, int64_t T, const Routing& r, const ExpertWeights& w, float* out) {
    const int64_t H = w.hidden(), I = w.intermediate(), E = w.num_local(), k = r.top_k;
    // Slots (t * k + j) per local expert, in ascending token order.
    std::vector<std::vector<int64_t>> slots(E);
    for (int64_t s = 0; s < T * k; ++s) {
        const int64_t e = r.expert[s] - w.first_expert;
        if (e >= 0 && e < E) slots[e].push_back(s);
    }
    std::vector<float> y(T * k * H, 0.0f);  // each (token, choice)'s expert output
    std::vector<float> xe, gu, act, ye;
    for (int64_t e = 0; e < E; ++e) {
        const int64_t n = static_cast<int64_t>(slots[e].size());
        if (n == 0) continue;
        xe.resize(n * H);
        gu.resize(n * 2 * I);
        act.resize(n * I);
        ye.resize(n * H);
        for (int64_t i = 0; i < n; ++i) std::memcpy(&xe[i * H], x + (slots[e][i] / k) * H, H * sizeof(float));
        expert_matmul(xe.data(), n, H, w.gate_up, e, 2 * I, gu.data());
        act_mul(gu.data(), n, I, w.act, act.data());
        expert_matmul(act.data(), n, I, w.down, e, H, ye.data());
        for (int64_t i = 0; i < n; ++i) std::memcpy(&y[slots[e][i] * H], &ye[i * H], H * sizeof(float));
    }
    parallel_for(T, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, H * k)), [&](int64_t b, int64_t end) {
        for (int64_t t = b; t < end; ++t) {
            float* o = out + t * H;
            std::fill(o, o + H, 0.0f);
            for (int64_t j = 0; j < k; ++j) {
                const int64_t e = r.expert[t * k + j] - w.first_expert;
                if (e < 0 || e >= E) continue;
                const float wt = r.weight[t * k + j];
                const float* ys = &y[(t * k + j) * H];
                for (int64_t h = 0; h < H; ++h) o[h] += ys[h] * wt;
            }
        }
    });
}

void add_shared_expert(float* out, const float* y, const float* gate_logits, int64_t T, int64_t H) {
    for (int64_t t = 0; t < T; ++t) {
        const float g = gate_logits ? 1.0f / (1.0f + std::exp(-gate_logits[t])) : 1.0f;
        for (int64_t h = 0; h < H; ++h) out[t * H + h] += g * y[t * H + h];
    }
}

}  // namespace kite::ops::cpu
