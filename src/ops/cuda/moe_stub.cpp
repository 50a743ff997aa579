// ops::moe_experts on CUDA when kite is built without KITE_CUDA (with it, moe.cu defines it).
#if !defined(KITE_CUDA_ENABLED)
#include "ops/cuda/moe_kernels.h"

namespace kite::ops::cuda {

Status moe_experts(const float*, int64_t, const Routing&, const ExpertWeights&, float*) {
    return unimplemented("moe_experts: tensors are on CUDA but kite was built without CUDA (-DKITE_CUDA=ON)");
}

Status add_shared_expert(float*, const float*, const float*, int64_t, int64_t) {
    return unimplemented("add_shared_expert: tensors are on CUDA but kite was built without CUDA (-DKITE_CUDA=ON)");
}

}  // namespace kite::ops::cuda
#endif
