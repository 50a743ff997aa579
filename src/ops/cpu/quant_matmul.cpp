// ops::quant_matmul: y = x W^T computed straight from GGUF blocks with f32 activations (no
// activation quantization), each expanded block reused for up to four tokens. Q4_0/Q4_1/Q8_0
// expand only the integers and scale once per block; other types expand 32 values at a time.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/quant.h"

namespace kite::ops {

void k_scale_min(const uint8_t* s, int j, uint8_t& sc, uint8_t& m);  // quant_dequant.cpp

namespace {

inline float h2f(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// The low eight i8 of v as eight f32.
inline __m256 i8x8(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }

// 32 values 0..15 from 16 packed bytes: low nibbles are elements 0..15, high nibbles 16..31.
inline void nibbles16(const uint8_t* qs, __m128i& lo, __m128i& hi) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i m = _mm_set1_epi8(0x0f);
    lo = _mm_and_si128(b, m);
    hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
}

// The fifth bit of Q5_0/Q5_1 elements 8g..8g+7 (bit e of qh), as 0 or 16 in eight i32 lanes.
inline __m256i q5_high(uint32_t qh, int g) {
    const __m256i shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i bits = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(qh >> (8 * g))), shifts);
    return _mm256_slli_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(1)), 4);
}

// Each Q type: kElems/kBytes per block and load(block, sub, v) writing elements
// [32*sub, 32*sub + 32) of the block as f32 into v[0..3].
template <bool kHasMin>
inline void load_q5(const uint8_t* b, __m256 v[4]) {
    const __m256 d = _mm256_set1_ps(h2f(b));
    const int off = kHasMin ? 4 : 2;
    uint32_t qh;
    std::memcpy(&qh, b + off, 4);
    __m128i lo, hi;
    nibbles16(b + off + 4, lo, hi);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
        const __m256i q = _mm256_or_si256(_mm256_cvtepu8_epi32(parts[g]), q5_high(qh, g));
        if constexpr (kHasMin) {
            v[g] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), _mm256_set1_ps(h2f(b + 2)));
        } else {
            v[g] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(16))));
        }
    }
}
struct Q5_0 {
    static constexpr int kElems = 32, kBytes = 22;
    static void load(const uint8_t* b, int, __m256 v[4]) { load_q5<false>(b, v); }
};
struct Q5_1 {
    static constexpr int kElems = 32, kBytes = 24;
    static void load(const uint8_t* b, int, __m256 v[4]) { load_q5<true>(b, v); }
};

// 32 bytes as four groups of eight i32 lanes.
inline void split32(__m256i q, __m256i out[4]) {
    const __m128i a = _mm256_castsi256_si128(q), c = _mm256_extracti128_si256(q, 1);
    out[0] = _mm256_cvtepu8_epi32(a);
    out[1] = _mm256_cvtepu8_epi32(_mm_srli_si128(a, 8));
    out[2] = _mm256_cvtepu8_epi32(c);
    out[3] = _mm256_cvtepu8_epi32(_mm_srli_si128(c, 8));
}

template <bool kFifthBit>
inline void load_q45_k(const uint8_t* b, int j, __m256 v[4]) {
    uint8_t s, mn;
    k_scale_min(b + 4, j, s, mn);
    const __m256 d1 = _mm256_set1_ps(h2f(b) * static_cast<float>(s));
    const __m256 m1 = _mm256_set1_ps(h2f(b + 2) * static_cast<float>(mn));
    const uint8_t* qs = b + (kFifthBit ? 48 : 16) + 32 * (j / 2);
    __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
    q = _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(4 * (j % 2))), _mm256_set1_epi8(0x0f));
    if constexpr (kFifthBit) {
        __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
        h = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(j)), _mm256_set1_epi8(1));
        q = _mm256_or_si256(q, _mm256_slli_epi16(h, 4));
    }
    __m256i g[4];
    split32(q, g);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) v[k] = _mm256_fmsub_ps(d1, _mm256_cvtepi32_ps(g[k]), m1);
}
struct Q4_K {
    static constexpr int kElems = 256, kBytes = 144;
    static void load(const uint8_t* b, int j, __m256 v[4]) { load_q45_k<false>(b, j, v); }
};
struct Q5_K {
    static constexpr int kElems = 256, kBytes = 176;
    static void load(const uint8_t* b, int j, __m256 v[4]) { load_q45_k<true>(b, j, v); }
};

struct Q6_K {
    static constexpr int kElems = 256, kBytes = 210;
    static void load(const uint8_t* b, int s, __m256 v[4]) {
        const int h = s / 4, r0 = 32 * (s % 4);
        const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
        const float d = h2f(b + 208);
        __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + r0 % 64));
        lo = _mm256_and_si256(_mm256_srl_epi16(lo, _mm_cvtsi32_si128(4 * (r0 / 64))), _mm256_set1_epi8(0x0f));
        __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
        hi = _mm256_and_si256(_mm256_srl_epi16(hi, _mm_cvtsi32_si128(2 * (s % 4))), _mm256_set1_epi8(3));
        const __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
        __m256i g[4];
        split32(q, g);
        const __m256i bias = _mm256_set1_epi32(32);
        const int e = 128 * h + r0;
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
            const __m256 ds = _mm256_set1_ps(d * static_cast<float>(sc[(e + 8 * k) / 16]));
            v[k] = _mm256_mul_ps(ds, _mm256_cvtepi32_ps(_mm256_sub_epi32(g[k], bias)));
        }
    }
};

struct F16 {
    static constexpr int kElems = 32, kBytes = 64;
    static void load(const uint8_t* b, int, __m256 v[4]) {
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) v[g] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * g)));
    }
};
struct BF16 {
    static constexpr int kElems = 32, kBytes = 64;
    static void load(const uint8_t* b, int, __m256 v[4]) {
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) {
            const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * g)));
            v[g] = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
        }
    }
};
struct F32 {
    static constexpr int kElems = 32, kBytes = 128;
    static void load(const uint8_t* b, int, __m256 v[4]) {
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) v[g] = _mm256_loadu_ps(reinterpret_cast<const float*>(b) + 8 * g);
    }
};

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// out[t, n] for tokens [t0, t0 + G) and one weight row: each expanded piece is used G times.
template <class Q, int G>
void row_dot(const uint8_t* row, const float* x, int64_t K, int64_t t0, int64_t n, int64_t N, float* out) {
    __m256 acc[G][2];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) acc[g][0] = acc[g][1] = _mm256_setzero_ps();
    constexpr int kSubs = Q::kElems / 32;
    const int64_t blocks = K / Q::kElems;
    for (int64_t bi = 0; bi < blocks; ++bi) {
        const uint8_t* blk = row + bi * Q::kBytes;
        for (int s = 0; s < kSubs; ++s) {
            __m256 v[4];
            Q::load(blk, s, v);
            const int64_t k = bi * Q::kElems + 32 * s;
#pragma GCC unroll 4
            for (int g = 0; g < G; ++g) {
                const float* xt = x + (t0 + g) * K + k;
                acc[g][0] = _mm256_fmadd_ps(v[0], _mm256_loadu_ps(xt), acc[g][0]);
                acc[g][1] = _mm256_fmadd_ps(v[1], _mm256_loadu_ps(xt + 8), acc[g][1]);
                acc[g][0] = _mm256_fmadd_ps(v[2], _mm256_loadu_ps(xt + 16), acc[g][0]);
                acc[g][1] = _mm256_fmadd_ps(v[3], _mm256_loadu_ps(xt + 24), acc[g][1]);
            }
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) out[(t0 + g) * N + n] = hsum(_mm256_add_ps(acc[g][0], acc[g][1]));
}

template <class Q>
void matmul(const float* x, int64_t T, int64_t K, const uint8_t* w, int64_t N, float* out) {
    const int64_t row_bytes = K / Q::kElems * Q::kBytes;
    // Enough rows per chunk that a thread's share is worth waking it (a decode step has T = 1).
    parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
        // Token groups outside, rows inside: the rows of this chunk stay in cache across groups.
        for (int64_t t0 = 0; t0 < T; t0 += 4) {
            const int64_t g = std::min<int64_t>(4, T - t0);
            for (int64_t n = n0; n < n1; ++n) {
                const uint8_t* row = w + n * row_bytes;
                switch (g) {
                    case 4: row_dot<Q, 4>(row, x, K, t0, n, N, out); break;
                    case 3: row_dot<Q, 3>(row, x, K, t0, n, N, out); break;
                    case 2: row_dot<Q, 2>(row, x, K, t0, n, N, out); break;
                    default: row_dot<Q, 1>(row, x, K, t0, n, N, out); break;
                }
            }
        }
    });
}

// Q4_0, Q4_1 and Q8_0 (the legacy 32-blocks; the default model's types) take a faster route: each
// block contributes d * sum(q * x) + m * sum(x), so the per-element work is only expanding the
// integers q and one FMA with x; d and m are applied once per block. Q4 nibbles are expanded by
// shifting a broadcast 32-bit word (no shuffles), which yields them in the order lo0 hi0 lo1 hi1 ...
// (elements 0 16 1 17 ...); x is permuted once per call to match.
struct FactQ4_0 {
    static constexpr int kBytes = 18;
    static constexpr bool kNibbles = true, kHasMin = true;
    static void scales(const uint8_t* b, float& d, float& m) {
        d = h2f(b);
        m = -8.0f * d;  // d * (q - 8) = d * q - 8d
    }
    static const uint8_t* quants(const uint8_t* b) { return b + 2; }
};
struct FactQ4_1 {
    static constexpr int kBytes = 20;
    static constexpr bool kNibbles = true, kHasMin = true;
    static void scales(const uint8_t* b, float& d, float& m) {  // both f16 halves in one conversion
        int32_t dm;
        std::memcpy(&dm, b, 4);
        const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(dm));
        d = _mm_cvtss_f32(f);
        m = _mm_cvtss_f32(_mm_movehdup_ps(f));
    }
    static const uint8_t* quants(const uint8_t* b) { return b + 4; }
};
struct FactQ8_0 {
    static constexpr int kBytes = 34;
    static constexpr bool kNibbles = false, kHasMin = false;
    static void scales(const uint8_t* b, float& d, float& m) {
        d = h2f(b);
        m = 0.0f;
    }
    static const uint8_t* quants(const uint8_t* b) { return b + 2; }
};

template <class Q>
inline void expand_ints(const uint8_t* qs, __m256 q[4]) {
    if constexpr (Q::kNibbles) {
        const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
        const __m256i mask = _mm256_set1_epi32(0x0f);
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) {
            int32_t word;
            std::memcpy(&word, qs + 4 * g, 4);
            q[g] = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(word), shifts), mask));
        }
    } else {
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) q[g] = i8x8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 8 * g)));
    }
}

template <class Q, int G>
void row_dot_fact(const uint8_t* row, const float* xp, const float* xs, int64_t K, int64_t t0, int64_t n, int64_t N,
                  float* out) {
    const int64_t nb = K / 32;
    __m256 acc[G];
    float macc[G];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
        acc[g] = _mm256_setzero_ps();
        macc[g] = 0.0f;
    }
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = row + b * Q::kBytes;
        __m256 q[4];
        expand_ints<Q>(Q::quants(blk), q);
        float d, m;
        Q::scales(blk, d, m);
        const __m256 dv = _mm256_set1_ps(d);
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) {
            const float* xt = xp + (t0 + g) * K + 32 * b;
            __m256 sum = _mm256_mul_ps(q[0], _mm256_loadu_ps(xt));
            sum = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xt + 8), sum);
            sum = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xt + 16), sum);
            sum = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xt + 24), sum);
            acc[g] = _mm256_fmadd_ps(dv, sum, acc[g]);
            if constexpr (Q::kHasMin) macc[g] += m * xs[(t0 + g) * nb + b];
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) out[(t0 + g) * N + n] = hsum(acc[g]) + macc[g];
}

template <class Q>
void matmul_fact(const float* x, int64_t T, int64_t K, const uint8_t* w, int64_t N, float* out) {
    const int64_t nb = K / 32, row_bytes = nb * Q::kBytes;
    // Per-block sums of x (for the m term) and, for nibble types, x in the expansion's lane order.
    std::vector<float> xs(Q::kHasMin ? T * nb : 0), xperm;
    for (int64_t t = 0; t < T && Q::kHasMin; ++t) {
        for (int64_t b = 0; b < nb; ++b) {
            float s = 0;
            for (int j = 0; j < 32; ++j) s += x[t * K + 32 * b + j];
            xs[t * nb + b] = s;
        }
    }
    const float* xp = x;
    if constexpr (Q::kNibbles) {
        xperm.resize(T * K);
        for (int64_t i = 0; i < T * nb; ++i) {
            const float* src = x + 32 * i;
            float* dst = xperm.data() + 32 * i;
            for (int j = 0; j < 16; ++j) {  // byte j of qs holds elements j (low) and j + 16 (high)
                dst[2 * j] = src[j];
                dst[2 * j + 1] = src[j + 16];
            }
        }
        xp = xperm.data();
    }
    parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
        for (int64_t t0 = 0; t0 < T; t0 += 4) {
            const int64_t g = std::min<int64_t>(4, T - t0);
            for (int64_t n = n0; n < n1; ++n) {
                const uint8_t* row = w + n * row_bytes;
                switch (g) {
                    case 4: row_dot_fact<Q, 4>(row, xp, xs.data(), K, t0, n, N, out); break;
                    case 3: row_dot_fact<Q, 3>(row, xp, xs.data(), K, t0, n, N, out); break;
                    case 2: row_dot_fact<Q, 2>(row, xp, xs.data(), K, t0, n, N, out); break;
                    default: row_dot_fact<Q, 1>(row, xp, xs.data(), K, t0, n, N, out); break;
                }
            }
        }
    });
}

}  // namespace

void quant_matmul(const float* x, int64_t num_tokens, int64_t in_features, const Tensor& w, float* out) {
    KITE_CHECK_MSG(w.ndim() == 2 && w.dim(1) == in_features, "quant_matmul: weight " + w.shape_string() +
                                                                   " does not match in_features " +
                                                                   std::to_string(in_features));
    KITE_CHECK_MSG(in_features % 32 == 0 && in_features % dtype_block_elems(w.dtype()) == 0,
                   "quant_matmul: in_features " + std::to_string(in_features) + " not a multiple of the " +
                       dtype_name(w.dtype()) + " block");
    const auto* wp = w.data<uint8_t>();
    const int64_t N = w.dim(0), T = num_tokens, K = in_features;
    switch (w.dtype()) {
        case DType::kQ8_0: matmul_fact<FactQ8_0>(x, T, K, wp, N, out); return;
        case DType::kQ4_0: matmul_fact<FactQ4_0>(x, T, K, wp, N, out); return;
        case DType::kQ4_1: matmul_fact<FactQ4_1>(x, T, K, wp, N, out); return;
        case DType::kQ5_0: matmul<Q5_0>(x, T, K, wp, N, out); return;
        case DType::kQ5_1: matmul<Q5_1>(x, T, K, wp, N, out); return;
        case DType::kQ4_K: matmul<Q4_K>(x, T, K, wp, N, out); return;
        case DType::kQ5_K: matmul<Q5_K>(x, T, K, wp, N, out); return;
        case DType::kQ6_K: matmul<Q6_K>(x, T, K, wp, N, out); return;
        case DType::kF16: matmul<F16>(x, T, K, wp, N, out); return;
        case DType::kBF16: matmul<BF16>(x, T, K, wp, N, out); return;
        case DType::kF32: matmul<F32>(x, T, K, wp, N, out); return;
        case DType::kI32: case DType::kI64: case DType::kU8: case DType::kI8: break;
    }
    KITE_CHECK_MSG(false, std::string("quant_matmul: unsupported weight dtype ") + dtype_name(w.dtype()));
}

}  // namespace kite::ops
