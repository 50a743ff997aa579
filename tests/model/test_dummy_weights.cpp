// Dummy weights (--dummy-weights): N(0, 0.02) by their moments, ones for norms, and the same values
// whatever the thread count (the fill is parallel, each value a function of seed and index only).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "model/weight_loader.h"

namespace kite {
namespace {

TEST(DummyWeights, NormalMomentsAndOnes) {
    const int64_t n = 1 << 20;
    std::vector<float> w(n);
    fill_dummy(w.data(), n, 1234, false);
    double sum = 0, sq = 0, quart = 0;
    for (float v : w) {
        sum += v;
        sq += double(v) * v;
        quart += std::pow(double(v) / 0.02, 4);
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    // 6-sigma bounds for n = 2^20 samples of N(0, 0.02^2).
    EXPECT_NEAR(mean, 0.0, 6 * 0.02 / std::sqrt(double(n)));
    EXPECT_NEAR(std::sqrt(var), 0.02, 6 * 0.02 / std::sqrt(2.0 * n));
    EXPECT_NEAR(quart / n, 3.0, 6 * std::sqrt(96.0 / n));  // E[z^4] = 3, Var[z^4] = 96
    std::vector<float> ones(1001);
    fill_dummy(ones.data(), 1001, 1, true);
    for (float v : ones) EXPECT_EQ(v, 1.0f);
}

TEST(DummyWeights, SameValuesForAnyThreadCountAndOddLength) {
    const int64_t n = (1 << 18) + 7;
    const int before = num_threads();
    std::vector<float> a(n), b(n), c(n);
    set_num_threads(1);
    fill_dummy(a.data(), n, 99, false);
    set_num_threads(4);
    fill_dummy(b.data(), n, 99, false);
    set_num_threads(before);
    EXPECT_EQ(a, b);
    fill_dummy(c.data(), n, 100, false);  // another seed, other values
    EXPECT_NE(a, c);
}

}  // namespace
}  // namespace kite
