// ops::linear's CPU kernel: dense f32 weights through the f32 GEMM, quantized (and f16/bf16) ones
// through quant_matmul, which reads the stored rows directly; the bias is added after either.
#include "ops/cpu/kernels.h"
#include "ops/quant.h"

namespace kite::ops::cpu {

void linear(const float* x, int64_t T, int64_t K, const Tensor& w, const float* bias, float* out) {
    const int64_t N = w.dim(0);
    if (w.dtype() == DType::kF32) return gemm_nt_f32(x, T, K, w.data<float>(), N, bias, out);
    quant_matmul(x, T, K, w, out);
    if (bias == nullptr) return;
    for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n) out[t * N + n] += bias[n];
}

}  // namespace kite::ops::cpu
