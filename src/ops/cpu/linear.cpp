// ops::linear's CPU kernel: dense f32 weights through the f32 GEMM, quantized (and f16/bf16) ones
// through quant_matmul, which reads the stored rows directly (bit-identical to the f32 GEMM).
#include "ops/cpu/kernels.h"
#include "ops/quant.h"

namespace kite::ops::cpu {

void linear(const float* x, int64_t T, int64_t K, const Tensor& w, const float* bias, float* out) {
    const int64_t N = w.dim(0);
    if (w.dtype() == DType::kF32) return gemm_nt_f32(x, T, K, w.data<float>(), N, bias, out);
    quant_matmul(x, T, K, w, out, bias);  // bias added right after each dot, as gemm_nt_f32 does
}

}  // namespace kite::ops::cpu
