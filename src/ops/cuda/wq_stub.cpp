// ops::cuda::wq_matmul when kite is built without KITE_CUDA (wq_matmul.cu defines it otherwise).
#if !defined(KITE_CUDA_ENABLED)
#include "ops/cuda/wq_kernels.h"

namespace kite::ops::cuda {

Status wq_matmul(const float*, int64_t, const Weight&, const float*, float*) {
    return unimplemented("linear: tensors are on CUDA but kite was built without CUDA (-DKITE_CUDA=ON)");
}

}  // namespace kite::ops::cuda
#endif
