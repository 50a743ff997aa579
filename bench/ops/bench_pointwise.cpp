// Activation and LayerNorm benchmark: a double-precision reference, the numbered versions, a check
// of each (max relative error; a row computed alone bit-identical to the same row in the batch),
// then ns per element.
//   bench_pointwise [--threads N] [--reps N] [--rows T] [--width N]
// v1: the scalar formulas (ops/activation_math.h per element; LayerNorm in scalar double loops),
// as the first kernels computed them; v2: ops/cpu/pointwise.cpp and ops/cpu/norm.cpp as built.
#include <cmath>

#include "bench_util.h"
#include "core/parallel.h"
#include "ops/activation_math.h"
#include "ops/cpu/kernels.h"

using namespace kite;
using namespace kite::bench;

namespace {

double ref_act(ops::Activation a, double x) {
    switch (a) {
        case ops::Activation::kSilu: return x / (1.0 + std::exp(-x));
        case ops::Activation::kGelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        case ops::Activation::kGeluTanh:
            return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        case ops::Activation::kQuickGelu: return x / (1.0 + std::exp(-1.702 * x));
        case ops::Activation::kRelu: return x > 0 ? x : 0.0;
        case ops::Activation::kRelu2: return x > 0 ? x * x : 0.0;
    }
    return 0.0;
}

void v1_activation(float* x, int64_t n, ops::Activation a) {
    parallel_for(n, int64_t(1) << 15, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] = ops::activate(a, x[i]);
    });
}

void v1_layer_norm(const float* x, const float* w, const float* bias, int64_t rows, int64_t n, float eps, float* out) {
    parallel_for(rows, 1, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            const float* xr = x + r * n;
            double mean = 0.0, ss = 0.0;
            for (int64_t i = 0; i < n; ++i) mean += xr[i];
            mean /= double(n);
            for (int64_t i = 0; i < n; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
            const float inv = 1.0f / std::sqrt(float(ss / double(n)) + eps);
            for (int64_t i = 0; i < n; ++i) out[r * n + i] = float(xr[i] - mean) * inv * w[i] + bias[i];
        }
    });
}

}  // namespace

int main(int argc, char** argv) {
    set_num_threads(int_flag(argc, argv, "--threads", 1));
    const int reps = int_flag(argc, argv, "--reps", 5);
    const int64_t T = int_flag(argc, argv, "--rows", 128), n = int_flag(argc, argv, "--width", 11008);
    const std::vector<float> x = random_vec(T * n, 1, -6.0f, 6.0f);
    std::printf("%lld x %lld, %d thread(s)\n", (long long)T, (long long)n, num_threads());
    std::printf("%-20s %4s %12s %10s %s\n", "op", "ver", "max rel err", "ns/elem", "rows alone equal");
    for (ops::Activation a : {ops::Activation::kSilu, ops::Activation::kGelu, ops::Activation::kGeluTanh,
                              ops::Activation::kQuickGelu}) {
        std::vector<double> want(x.size());
        for (size_t i = 0; i < x.size(); ++i) want[i] = ref_act(a, x[i]);
        for (int ver : {1, 2}) {
            auto run = [&](std::vector<float>& y) {
                if (ver == 1) v1_activation(y.data(), int64_t(y.size()), a);
                else ops::cpu::activation(y.data(), int64_t(y.size()), a);
            };
            std::vector<float> y = x;
            run(y);
            const double err = max_rel_err(y, want);
            std::vector<float> row(x.begin() + 5 * n + 3, x.begin() + 6 * n);  // a row that starts mid-vector
            run(row);
            const bool alone = !std::memcmp(row.data(), y.data() + 5 * n + 3, row.size() * sizeof(float));
            std::vector<float> buf;
            const double t = best_time(reps, [&] { buf = x; run(buf); });
            std::printf("%-20s v%-3d %12.2e %10.3f %s\n", ops::activation_name(a), ver, err, t * 1e9 / double(x.size()),
                        alone ? "yes" : "NO");
        }
    }
    const int64_t H = 4096, R = 512;
    const std::vector<float> h = random_vec(R * H, 2, 39.0f, 41.0f), w = random_vec(H, 3), b = random_vec(H, 4);
    std::vector<double> want(R * H);
    for (int64_t r = 0; r < R; ++r) {
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < H; ++i) mean += h[r * H + i];
        mean /= H;
        for (int64_t i = 0; i < H; ++i) var += (h[r * H + i] - mean) * (h[r * H + i] - mean);
        var /= H;
        for (int64_t i = 0; i < H; ++i) want[r * H + i] = (h[r * H + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
    }
    for (int ver : {1, 2}) {
        std::vector<float> out(R * H);
        auto run = [&](const float* in, int64_t rows, float* o) {
            if (ver == 1) v1_layer_norm(in, w.data(), b.data(), rows, H, 1e-5f, o);
            else ops::cpu::layer_norm(in, w.data(), b.data(), rows, H, 1e-5f, o);
        };
        run(h.data(), R, out.data());
        std::vector<float> one(H);
        run(h.data() + 17 * H, 1, one.data());
        const bool alone = !std::memcmp(one.data(), out.data() + 17 * H, H * sizeof(float));
        const double t = best_time(reps, [&] { run(h.data(), R, out.data()); });
        std::printf("%-20s v%-3d %12.2e %10.3f %s\n", "layer_norm 512x4096", ver, max_rel_err(out, want),
                    t * 1e9 / double(R * H), alone ? "yes" : "NO");
    }
    return 0;
}
