// ops::int8_matmul: the opt-in int8-activation path (`--cpu-int8-activations`). Each row of x is
// quantized per block of 32 to int8 (scale max|x| / 127, round to nearest even), the weights' legacy
// 32-blocks stay packed, and each block pair is one integer dot product scaled once: the scheme
// llama.cpp's CPU backend uses for these types (its q8_0 / q8_1 activations). The kernel body
// (int8_dot.inc) is compiled three times, for AVX-512 VNNI (256-bit EVEX vpdpbusd), AVX-VNNI and
// plain AVX2 (maddubs + madd), and the best the CPU has is picked once at run time.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/quant.h"

namespace kite::ops {

namespace {

// Quantized activations: q [T, K] int8, d [T, K/32] scales, s [T, K/32] = d * sum(q) per block.
struct Int8Rows {
    const int8_t* q;
    const float* d;
    const float* s;
    int64_t K;
};

}  // namespace

// Three copies of the kernel body, each under its own target and namespace. Everything the body
// calls is defined inside it, so nothing compiled for a wider target leaks to other callers.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace int8_avx2 {
#define KITE_DOT_U8S8(w, x) _mm256_madd_epi16(_mm256_maddubs_epi16((w), (x)), _mm256_set1_epi16(1))
#include "ops/cpu/int8_dot.inc"
#undef KITE_DOT_U8S8
}  // namespace int8_avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avxvnni")
namespace int8_avxvnni {
#define KITE_DOT_U8S8(w, x) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (w), (x))
#include "ops/cpu/int8_dot.inc"
#undef KITE_DOT_U8S8
}  // namespace int8_avxvnni
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")
namespace int8_avx512vnni {
#define KITE_DOT_U8S8(w, x) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (w), (x))
#include "ops/cpu/int8_dot.inc"
#undef KITE_DOT_U8S8
}  // namespace int8_avx512vnni
#pragma GCC pop_options

namespace {

using RunFn = void (*)(const Int8Rows&, int64_t, DType, const uint8_t*, int64_t, int64_t, const float*, float*,
                       int64_t);

struct Isa {
    RunFn run;
    const char* name;
};

Isa pick_isa() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl"))
        return {int8_avx512vnni::run, "avx512vnni"};
    if (__builtin_cpu_supports("avxvnni")) return {int8_avxvnni::run, "avxvnni"};
    return {int8_avx2::run, "avx2"};
}

const Isa& isa() {
    static const Isa chosen = pick_isa();
    return chosen;
}

std::atomic<bool> g_int8_activations{false};

constexpr int64_t kUnitCols = 24;
constexpr int64_t kMinMacsPerChunk = 64 * 1024;

// One row of x (K a multiple of 32) into int8 blocks.
void quantize_row(const float* x, int64_t K, int8_t* q, float* d, float* s) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < K / 32; ++b) {
        const float* xb = x + 32 * b;
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int g = 0; g < 4; ++g) {
            v[g] = _mm256_loadu_ps(xb + 8 * g);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[g]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float am = _mm_cvtss_f32(m);
        const float db = am / 127.0f;
        const __m256 inv = _mm256_set1_ps(am > 0.0f ? 127.0f / am : 0.0f);
        __m256i i[4];
        for (int g = 0; g < 4; ++g)
            i[g] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[g], inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        // i32 -> i8 with the lane-crossing packs undone by one permute.
        const __m256i p16 = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
        const __m256i p8 = _mm256_permutevar8x32_epi32(p16, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * b), p8);
        d[b] = db;
        s[b] = db * static_cast<float>(_mm_cvtsi128_si32(s4));
    }
}

}  // namespace

void set_int8_activations(bool on) { g_int8_activations.store(on, std::memory_order_relaxed); }
bool use_int8_activations() { return g_int8_activations.load(std::memory_order_relaxed); }

bool int8_matmul_supports(DType t) {
    return t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 || t == DType::kQ5_1 || t == DType::kQ8_0;
}

const char* int8_matmul_isa() { return isa().name; }

void int8_matmul(const float* x, int64_t T, int64_t K, const Tensor& w, float* out, const float* bias) {
    KITE_CHECK_MSG(int8_matmul_supports(w.dtype()), std::string("int8_matmul: unsupported weight dtype ") + dtype_name(w.dtype()));
    KITE_CHECK_MSG(w.ndim() == 2 && w.dim(1) == K && K % 32 == 0,
                   "int8_matmul: weight " + w.shape_string() + " does not match in_features " + std::to_string(K));
    const int64_t N = w.dim(0), nb = K / 32;
    if (T <= 0 || N <= 0) return;
    std::vector<int8_t> q(T * K);
    std::vector<float> d(T * nb), s(T * nb);
    parallel_for(T, std::max<int64_t>(1, 8192 / K), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) quantize_row(x + t * K, K, q.data() + t * K, d.data() + t * nb, s.data() + t * nb);
    });
    const Int8Rows rows{q.data(), d.data(), s.data(), K};
    const RunFn run = isa().run;
    const auto* wp = w.data<uint8_t>();
    const int64_t units = (N + kUnitCols - 1) / kUnitCols;
    const int64_t grain = std::max<int64_t>(1, kMinMacsPerChunk / (T * K * kUnitCols));
    parallel_for(units, grain, [&](int64_t ub, int64_t ue) {
        run(rows, T, w.dtype(), wp, ub * kUnitCols, std::min(N, ue * kUnitCols), bias, out, N);
    });
}

}  // namespace kite::ops
