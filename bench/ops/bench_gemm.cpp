// gemm_nt_f32 benchmark: a double-precision reference, the numbered kernel versions, a check of each
// (error vs the reference; bit-identity of each row computed alone vs in the batch), then GFLOP/s.
//   bench_gemm [--threads N] [--reps N] [--version V]   (V = 0: all)
// v1: the first kernel (4x2 / 1x2 tiles, scalar K tail); v2: ops/cpu/gemm.cpp as built.
#include <immintrin.h>

#include "bench_util.h"
#include "core/parallel.h"
#include "ops/cpu/kernels.h"

using namespace kite;
using namespace kite::bench;

namespace {

void gemm_ref(const float* x, int64_t T, int64_t K, const float* w, int64_t N, std::vector<double>& out) {
    out.assign(T * N, 0.0);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n) {
            double s = 0.0;
            for (int64_t k = 0; k < K; ++k) s += double(x[t * K + k]) * w[n * K + k];
            out[t * N + n] = s;
        }
}

// ---- v1: the first kernel, kept verbatim in spirit for comparison.
inline float v1_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(s);
    s = _mm_add_ps(s, sh);
    sh = _mm_movehl_ps(sh, s);
    return _mm_cvtss_f32(_mm_add_ss(s, sh));
}
template <int R, int C>
void v1_micro(const float* x, int64_t ldx, const float* w, int64_t K, float* out, int64_t ldo) {
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    const int64_t K8 = K & ~int64_t(7);
    for (int64_t k = 0; k < K8; k += 8) {
        __m256 xv[R];
        for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(x + r * ldx + k);
        for (int c = 0; c < C; ++c) {
            const __m256 wv = _mm256_loadu_ps(w + c * K + k);
            for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            float s = v1_hsum(acc[r][c]);
            for (int64_t k = K8; k < K; ++k) s += x[r * ldx + k] * w[c * K + k];
            out[r * ldo + c] = s;
        }
}
template <int C>
void v1_rows(const float* x, int64_t T, int64_t K, const float* w, float* out, int64_t N) {
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) v1_micro<4, C>(x + t * K, K, w, K, out + t * N, N);
    for (; t < T; ++t) v1_micro<1, C>(x + t * K, K, w, K, out + t * N, N);
}
void gemm_v1(const float* x, int64_t T, int64_t K, const float* w, int64_t N, float* out) {
    const int64_t units = (N + 7) / 8;
    parallel_for(units, T >= 16 ? 1 : 4, [&](int64_t ub, int64_t ue) {
        const int64_t n_begin = ub * 8, n_end = std::min(N, ue * 8);
        for (int64_t t0 = 0; t0 < T; t0 += 64) {
            const int64_t tn = std::min<int64_t>(64, T - t0);
            int64_t n = n_begin;
            for (; n + 2 <= n_end; n += 2) v1_rows<2>(x + t0 * K, tn, K, w + n * K, out + t0 * N + n, N);
            for (; n < n_end; ++n) v1_rows<1>(x + t0 * K, tn, K, w + n * K, out + t0 * N + n, N);
        }
    });
}

void gemm_v2(const float* x, int64_t T, int64_t K, const float* w, int64_t N, float* out) {
    ops::cpu::gemm_nt_f32(x, T, K, w, N, nullptr, out);
}

using Kernel = void (*)(const float*, int64_t, int64_t, const float*, int64_t, float*);
constexpr Kernel kVersions[] = {nullptr, gemm_v1, gemm_v2};

struct Shape {
    int64_t T, K, N;
    const char* what;
};

}  // namespace

int main(int argc, char** argv) {
    set_num_threads(int_flag(argc, argv, "--threads", 1));
    const int reps = int_flag(argc, argv, "--reps", 5);
    const int only = int_flag(argc, argv, "--version", 0);
    const Shape shapes[] = {
        {1, 640, 1920, "decode qkv (100m)"},   {1, 640, 3456, "decode gate_up (100m)"},
        {1, 1728, 640, "decode down (100m)"},  {1, 640, 32000, "decode lm_head (100m)"},
        {16, 640, 3456, "prefill16 gate_up"},  {128, 640, 1920, "prefill qkv"},
        {128, 640, 3456, "prefill gate_up"},   {128, 1728, 640, "prefill down"},
        {7, 769, 5125, "odd 7x769x5125"},      {1, 64, 192, "stories260K qkv"},
    };
    std::printf("threads %d\n%-24s %5s %5s %6s  %-4s %10s %9s %s\n", num_threads(), "shape", "T", "K", "N", "ver",
                "GFLOP/s", "rel_err", "rows_alone_equal");
    for (const Shape& s : shapes) {
        const auto x = random_vec(s.T * s.K, 1), w = random_vec(s.N * s.K, 2);
        std::vector<double> ref;
        gemm_ref(x.data(), s.T, s.K, w.data(), s.N, ref);
        for (int v = 1; v < int(std::size(kVersions)); ++v) {
            if (only != 0 && v != only) continue;
            std::vector<float> out(s.T * s.N), row(s.N);
            kVersions[v](x.data(), s.T, s.K, w.data(), s.N, out.data());
            const double err = max_rel_err(out, ref);
            bool same = true;  // each row alone must equal its row in the batch, bit for bit
            for (int64_t t = 0; t < s.T; ++t) {
                kVersions[v](x.data() + t * s.K, 1, s.K, w.data(), s.N, row.data());
                same = same && std::memcmp(row.data(), out.data() + t * s.N, s.N * sizeof(float)) == 0;
            }
            const double sec = best_time(reps, [&] { kVersions[v](x.data(), s.T, s.K, w.data(), s.N, out.data()); });
            std::printf("%-24s %5lld %5lld %6lld  v%-3d %10.2f %9.2e %s\n", s.what, (long long)s.T, (long long)s.K,
                        (long long)s.N, v, 2.0 * s.T * s.K * s.N / sec * 1e-9, err, same ? "yes" : "NO");
        }
    }
    return 0;
}
