// CUDA side of ops::moe_experts (ops/cuda/moe.cu; moe_stub.cpp without KITE_CUDA).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "ops/moe.h"

namespace kite::ops::cuda {

// Fused MoE: tokens permuted by expert, one grouped GEMM over all local experts for gate|up, SwiGLU,
// one grouped GEMM for down, then un-permuted with the routing weights (ascending expert id per
// token, as on the CPU). x, out: device [T, H] f32; weights f32 or bf16 on the device.
Status moe_experts(const float* x, int64_t T, const Routing& r, const ExpertWeights& w, float* out);
// out[t] += sigmoid(gate_logits[t]) (or 1) * y[t]; device pointers.
Status add_shared_expert(float* out, const float* y, const float* gate_logits, int64_t T, int64_t H);

}  // namespace kite::ops::cuda
