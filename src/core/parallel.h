// Data-parallel loops for CPU kernels. One place decides how kite's own CPU kernels use threads (a
// persistent pool of spinning-then-sleeping workers), so a kernel never creates threads itself.
// BLAS keeps its own pool.
#pragma once

#include <cstdint>
#include <functional>

namespace kite {

// Calls fn(begin, end) over disjoint chunks covering [0, n). The calling thread takes chunks too;
// idle workers take the rest, so a worker the OS has descheduled delays nobody. `grain` is the
// smallest chunk worth handing to another thread: n <= grain runs inline on the caller. Chunk
// boundaries vary with the thread count, so fn must not let them change any result.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Threads parallel_for may use (the caller included). Default: OMP_NUM_THREADS or KITE_NUM_THREADS
// when set, else the hardware's count.
int num_threads();
void set_num_threads(int n);

}  // namespace kite
