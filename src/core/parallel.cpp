#include "core/parallel.h"

#include <omp.h>

#include <algorithm>

namespace kite {

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
    const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), max_chunks));
    if (threads <= 1) {
        fn(0, n);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        const int64_t begin = n * t / threads;
        const int64_t end = n * (t + 1) / threads;
        if (begin < end) fn(begin, end);
    }
}

int num_threads() { return omp_get_max_threads(); }
void set_num_threads(int n) { omp_set_num_threads(std::max(1, n)); }

}  // namespace kite
