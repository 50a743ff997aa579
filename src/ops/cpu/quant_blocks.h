// Exact in-register expansion of GGUF blocks and 16-bit floats to f32, 32 elements at a time in
// natural order: each value equals ops::dequantize's bit for bit (products and sums rounded one by
// one, as quant_dequant.cpp computes them). A file including this must compile with
// `#pragma GCC optimize("fp-contract=off")` before any include: GCC otherwise fuses the intrinsics'
// `d * q + m` into one FMA, which rounds once and changes the value.
//
// Where d * q is exact in f32 (an f16 scale has 11 significant bits, q at most 8, so the product
// fits in 24), fl(d * q + m) equals fma(d, q, m): both round once. Those types use one FMA.
//
// Each type: kElems / kBytes per block and load(block, sub, v) writing elements [32*sub, 32*sub+32)
// of the block into v[0..3] (8 each, in order).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace kite::ops {

void k_scale_min(const uint8_t* s, int j, uint8_t& sc, uint8_t& m);  // quant_dequant.cpp

namespace qblk {

inline float h2f(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// 16 bytes -> four groups of eight u8 widened to i32, bytes [0,8) [8,16) of a then of b.
inline void widen(__m128i a, __m128i b, __m256i out[4]) {
    out[0] = _mm256_cvtepu8_epi32(a);
    out[1] = _mm256_cvtepu8_epi32(_mm_srli_si128(a, 8));
    out[2] = _mm256_cvtepu8_epi32(b);
    out[3] = _mm256_cvtepu8_epi32(_mm_srli_si128(b, 8));
}

// 32 values 0..15 from 16 packed bytes: low nibbles are elements 0..15, high nibbles 16..31.
inline void nibbles(const uint8_t* qs, __m256i q[4]) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i m = _mm_set1_epi8(0x0f);
    widen(_mm_and_si128(b, m), _mm_and_si128(_mm_srli_epi16(b, 4), m), q);
}

// The fifth bit of Q5 elements 8g..8g+7 (bit e of qh) as 0 or 16.
inline __m256i q5_high(uint32_t qh, int g) {
    const __m256i shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i bits = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(qh >> (8 * g))), shifts);
    return _mm256_slli_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(1)), 4);
}

struct Q8_0 {  // {f16 d; i8 q[32]}: q * d
    static constexpr int kElems = 32, kBytes = 34;
    static void load(const uint8_t* b, int, __m256 v[4]) {
        const __m256 d = _mm256_set1_ps(h2f(b));
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) {
            const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + 8 * g));
            v[g] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d);
        }
    }
};

struct Q4_0 {  // {f16 d; u8 qs[16]}: d * (q - 8)
    static constexpr int kElems = 32, kBytes = 18;
    static void load(const uint8_t* b, int, __m256 v[4]) {
        const __m256 d = _mm256_set1_ps(h2f(b));
        __m256i q[4];
        nibbles(b + 2, q);
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g)
            v[g] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(q[g], _mm256_set1_epi32(8))));
    }
};

struct Q4_1 {  // {f16 d; f16 m; u8 qs[16]}: d * q + m
    static constexpr int kElems = 32, kBytes = 20;
    static void load(const uint8_t* b, int, __m256 v[4]) {
        int32_t dm;
        std::memcpy(&dm, b, 4);
        const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(dm));  // both f16 halves in one conversion
        const __m256 d = _mm256_broadcastss_ps(f), m = _mm256_broadcastss_ps(_mm_movehdup_ps(f));
        __m256i q[4];
        nibbles(b + 4, q);
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) v[g] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q[g]), m);  // d * q exact
    }
};

template <bool kHasMin>
inline void load_q5(const uint8_t* b, __m256 v[4]) {
    const __m256 d = _mm256_set1_ps(h2f(b));
    const int off = kHasMin ? 4 : 2;
    uint32_t qh;
    std::memcpy(&qh, b + off, 4);
    __m256i q[4];
    nibbles(b + off + 4, q);
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
        const __m256i e = _mm256_or_si256(q[g], q5_high(qh, g));
        if constexpr (kHasMin) {
            v[g] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(e), _mm256_set1_ps(h2f(b + 2)));  // d * q exact
        } else {
            v[g] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(e, _mm256_set1_epi32(16))));
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

// Q4_K / Q5_K sub-block j: d1 * q - m1 with d1 = d * scale_j, m1 = dmin * min_j.
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
    widen(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1), g);
#pragma GCC unroll 4
    // d1 = d * scale (11 + 6 bits) times q (5 bits) is exact: one FMA.
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

// {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: (d * scale) * (q - 32) per 16 elements.
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
        widen(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1), g);
        const int e = 128 * h + r0;
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
            const __m256 ds = _mm256_set1_ps(d * static_cast<float>(sc[(e + 8 * k) / 16]));
            v[k] = _mm256_mul_ps(ds, _mm256_cvtepi32_ps(_mm256_sub_epi32(g[k], _mm256_set1_epi32(32))));
        }
    }
};

// 16-bit floats widen to f32 exactly.
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

}  // namespace qblk
}  // namespace kite::ops
