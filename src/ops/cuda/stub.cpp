// The CUDA ops when kite is built without KITE_CUDA: each reports how to get them. (With KITE_CUDA
// the *.cu files in this folder define the same functions and this file compiles to nothing.)
#if !defined(KITE_CUDA_ENABLED)
#include "ops/cuda/kernels.h"

namespace kite::ops::cuda {

namespace {
Status no_cuda(const char* op) {
    return unimplemented(std::string(op) + ": tensors are on CUDA but kite was built without CUDA (-DKITE_CUDA=ON)");
}
}  // namespace

Status linear(const float*, int64_t, int64_t, const Tensor&, const float*, float*) { return no_cuda("linear"); }
Status embedding(const Tensor&, std::span<const int32_t>, float*) { return no_cuda("embedding"); }
Status rms_norm(const float*, const float*, int64_t, int64_t, float, float, float*) { return no_cuda("rms_norm"); }
Status add_rms_norm(float*, const float*, const float*, int64_t, int64_t, float, float, float*) {
    return no_cuda("add_rms_norm");
}
Status layer_norm(const float*, const float*, const float*, int64_t, int64_t, float, float*) {
    return no_cuda("layer_norm");
}
Status add_layer_norm(float*, const float*, const float*, const float*, int64_t, int64_t, float, float*) {
    return no_cuda("add_layer_norm");
}
Status activation(float*, int64_t, Activation) { return no_cuda("activation"); }
Status act_mul(const float*, int64_t, int64_t, Activation, float*) { return no_cuda("act_mul"); }
Status scale(float*, int64_t, float) { return no_cuda("scale"); }
Status soft_cap(float*, int64_t, float) { return no_cuda("soft_cap"); }
Status add_inplace(float*, const float*, int64_t) { return no_cuda("add"); }
Status rope(float*, int64_t, int64_t, int64_t, const float*, const float*, int, RopeLayout) { return no_cuda("rope"); }
Status write_kv(const float*, const float*, int64_t, int64_t, int64_t, std::span<const int64_t>, float*, float*) {
    return no_cuda("write_kv");
}
Status paged_attention(const float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t,
                       std::span<const int32_t>, std::span<const int32_t>, const std::vector<std::vector<int32_t>>&,
                       const AttentionParams&, float*) {
    return no_cuda("paged_attention");
}

}  // namespace kite::ops::cuda
#endif
