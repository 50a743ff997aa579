// The MoE and MLA CUDA ops when kite is built without KITE_CUDA (with it, moe.cu and mla.cu define them).
#if !defined(KITE_CUDA_ENABLED)
#include "ops/cuda/moe_kernels.h"

namespace kite::ops::cuda {

Status moe_experts(const float*, int64_t, const Routing&, const ExpertWeights&, float*) {
    return unimplemented("moe_experts: tensors are on CUDA but kite was built without CUDA (-DKITE_CUDA=ON)");
}

Status add_shared_expert(float*, const float*, const float*, int64_t, int64_t) {
    return unimplemented("add_shared_expert: tensors are on CUDA but kite was built without CUDA (-DKITE_CUDA=ON)");
}

namespace {
Status no_cuda(const char* op) {
    return unimplemented(std::string(op) + ": tensors are on CUDA but kite was built without CUDA (-DKITE_CUDA=ON)");
}
}  // namespace

Status mla_write_latent(const float*, int64_t, const MlaDims&, const float*, float, const float*, const float*,
                        std::span<const int64_t>, float*) {
    return no_cuda("mla_write_latent");
}
Status mla_absorb_query(const float*, int64_t, const MlaDims&, const float*, const float*, const float*, float*) {
    return no_cuda("mla_absorb_query");
}
Status mla_attention(const float*, const float*, int64_t, const MlaDims&, int64_t, std::span<const int32_t>,
                     std::span<const int32_t>, const std::vector<std::vector<int32_t>>&, float, float*) {
    return no_cuda("mla_attention");
}
Status mla_project_values(const float*, int64_t, const MlaDims&, const float*, float*) {
    return no_cuda("mla_project_values");
}

}  // namespace kite::ops::cuda
#endif
