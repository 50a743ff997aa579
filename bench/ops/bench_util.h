// Shared helpers of the op benchmarks (llm.c's dev/ layout: a reference, numbered kernel versions,
// a correctness check of each against the reference, then timings): random data, a timer, checks.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace kite::bench {

inline std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(gen);
    return v;
}

inline double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best time of `reps` runs after one warm-up, in seconds (the minimum is the least noisy statistic
// on a shared machine).
template <class F>
double best_time(int reps, F&& f) {
    f();
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
        const double t0 = now_s();
        f();
        best = std::min(best, now_s() - t0);
    }
    return best;
}

// Largest |got - want| / (|want| + 1).
inline double max_rel_err(const std::vector<float>& got, const std::vector<double>& want) {
    double worst = 0.0;
    for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(double(got[i]) - want[i]) / (std::abs(want[i]) + 1.0));
    return worst;
}

inline int int_flag(int argc, char** argv, const char* name, int fallback) {
    for (int i = 1; i + 1 < argc; ++i)
        if (!std::strcmp(argv[i], name)) return std::atoi(argv[i + 1]);
    return fallback;
}

}  // namespace kite::bench
