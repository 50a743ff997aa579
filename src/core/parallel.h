// Data-parallel loops for CPU kernels. One place decides how kite's own CPU kernels use threads
// (OpenMP today), so a kernel never creates threads itself. BLAS keeps its own pool.
#pragma once

#include <cstdint>
#include <functional>

namespace kite {

// Calls fn(begin, end) over disjoint chunks covering [0, n); chunks run on worker threads.
// `grain` is the smallest chunk worth a thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);
int num_threads();
void set_num_threads(int n);

}  // namespace kite
