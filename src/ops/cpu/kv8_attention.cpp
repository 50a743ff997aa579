// CPU kernels of the 8-bit KV cache (ops/kv_quant.h): quantizing K/V rows as they are written, and
// paged attention that reads the 8-bit codes, turns 8 of them at a time into f32 (int8 by
// conversion, fp8 through a 256-entry table) and folds each row's scale into its score or weight.
// As in the f32 kernel, each (token, head) is computed on its own in a fixed order, so results do
// not depend on the batch around a sequence.
#include "ops/cpu/kv8_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "core/parallel.h"
#include "ops/kv_quant.h"

namespace kite::ops::cpu {

const std::array<float, 256>& e4m3_table() {
    static const std::array<float, 256> t = [] {
        std::array<float, 256> a{};
        for (int c = 0; c < 256; ++c) {
            const int e = (c >> 3) & 15, m = c & 7;
            float v = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(1.0f + m / 8.0f, e - 7);
            if ((c & 0x7f) == 0x7f) v = NAN;
            a[c] = (c & 0x80) ? -v : v;
        }
        return a;
    }();
    return t;
}

namespace {

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Eight codes at p as f32.
template <bool kFp8>
inline __m256 load8(const uint8_t* p, const float* table) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    if constexpr (kFp8) return _mm256_i32gather_ps(table, _mm256_cvtepu8_epi32(b), 4);
    else return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

template <bool kFp8>
inline float load1(const uint8_t* p, const float* table) {
    if constexpr (kFp8) return table[*p];
    else return static_cast<float>(static_cast<int8_t>(*p));
}

template <bool kFp8>
void attend(const float* q, const Kv8Pools& kv, int64_t h, int64_t kvh, const int32_t* table_ids, int64_t first,
            int64_t pos, const AttentionParams& ap, std::vector<float>& w, std::vector<int64_t>& slots, float* o) {
    const float softcap = ap.logit_softcap, slope = ap.alibi_slopes.empty() ? 0.0f : ap.alibi_slopes[h];
    const float* lut = e4m3_table().data();
    const int64_t D = kv.head_dim, n = pos - first + 1;
    w.resize(n);
    slots.resize(n);
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
        const int64_t p = first + j;
        const int64_t slot = int64_t(table_ids[p / kv.block_size]) * kv.block_size + p % kv.block_size;
        const int64_t row = slot * kv.kv_heads + kvh;
        slots[j] = row;
        const uint8_t* k = kv.k + row * D;
        __m256 acc = _mm256_setzero_ps();
        int64_t d = 0;
        for (; d + 8 <= D; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8<kFp8>(k + d, lut), acc);
        float s = hsum(acc);
        for (; d < D; ++d) s += q[d] * load1<kFp8>(k + d, lut);
        s *= kv.k_scale[row] * ap.scale;  // the scores ops.h defines: scale, soft-cap, ALiBi, in that order
        if (softcap > 0) s = softcap * std::tanh(s / softcap);
        if (slope != 0) s += slope * static_cast<float>(p - pos);
        w[j] = s;
        mx = std::max(mx, s);
    }
    float sum = 0;
    for (int64_t j = 0; j < n; ++j) {
        w[j] = std::exp(w[j] - mx);
        sum += w[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t d0 = 0; d0 < D; d0 += 64) {  // 8 vectors of output dims in registers
        const int64_t width = std::min<int64_t>(64, D - d0), vecs = width / 8;
        __m256 acc[8];
        float tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; ++j) {
            const float pw = w[j] * kv.v_scale[slots[j]];
            const __m256 pv = _mm256_set1_ps(pw);
            const uint8_t* v = kv.v + slots[j] * D + d0;
            for (int64_t i = 0; i < vecs; ++i) acc[i] = _mm256_fmadd_ps(pv, load8<kFp8>(v + 8 * i, lut), acc[i]);
            for (int64_t d = 8 * vecs; d < width; ++d) tail[d - 8 * vecs] += pw * load1<kFp8>(v + d, lut);
        }
        for (int64_t i = 0; i < vecs; ++i) _mm256_storeu_ps(o + d0 + 8 * i, _mm256_mul_ps(acc[i], _mm256_set1_ps(inv)));
        for (int64_t d = 8 * vecs; d < width; ++d) o[d0 + d] = tail[d - 8 * vecs] * inv;
    }
}

}  // namespace

void write_kv8(bool fp8, const float* k, const float* v, int64_t T, int64_t kv_heads, int64_t head_dim,
               std::span<const int64_t> slots, Kv8Pools& kv) {
    const float qmax = fp8 ? 448.0f : 127.0f;
    for (int64_t t = 0; t < T; ++t) {
        for (int pass = 0; pass < 2; ++pass) {
            const float* src = (pass == 0 ? k : v) + t * kv_heads * head_dim;
            uint8_t* dst = (pass == 0 ? kv.k : kv.v) + slots[t] * kv_heads * head_dim;
            float* sc = (pass == 0 ? kv.k_scale : kv.v_scale) + slots[t] * kv_heads;
            for (int64_t h = 0; h < kv_heads; ++h) {
                const float* x = src + h * head_dim;
                float amax = 0;
                for (int64_t d = 0; d < head_dim; ++d) amax = std::max(amax, std::fabs(x[d]));
                const float s = amax > 0 ? amax / qmax : 1.0f;
                const float inv = 1.0f / s;
                for (int64_t d = 0; d < head_dim; ++d) {
                    const float y = x[d] * inv;
                    dst[h * head_dim + d] = fp8 ? f32_to_e4m3(y)
                                                : static_cast<uint8_t>(static_cast<int8_t>(std::clamp(std::nearbyint(y), -127.0f, 127.0f)));
                }
                sc[h] = s;
            }
        }
    }
}

void paged_attention_kv8(bool fp8, const float* q, int64_t heads, const Kv8Pools& kv,
                         std::span<const int32_t> query_start, std::span<const int32_t> context_lens,
                         const std::vector<std::vector<int32_t>>& block_tables, const AttentionParams& ap, float* out) {
    const int64_t num_seqs = static_cast<int64_t>(context_lens.size()), T = query_start[num_seqs];
    const int64_t group = heads / kv.kv_heads, D = kv.head_dim;
    std::vector<int32_t> seq_of(T);
    for (int64_t s = 0; s < num_seqs; ++s)
        for (int32_t t = query_start[s]; t < query_start[s + 1]; ++t) seq_of[t] = static_cast<int32_t>(s);
    parallel_for(T * heads, 4, [&](int64_t begin, int64_t end) {
        std::vector<float> w;
        std::vector<int64_t> slots;
        for (int64_t item = begin; item < end; ++item) {
            const int64_t t = item / heads, h = item % heads;
            const int32_t s = seq_of[t];
            const int64_t pos = context_lens[s] - (query_start[s + 1] - query_start[s]) + (t - query_start[s]);
            const int64_t first = ap.sliding_window > 0 ? std::max<int64_t>(0, pos - ap.sliding_window + 1) : 0;
            const int32_t* table = block_tables[s].data();
            if (fp8) attend<true>(q + item * D, kv, h, h / group, table, first, pos, ap, w, slots, out + item * D);
            else attend<false>(q + item * D, kv, h, h / group, table, first, pos, ap, w, slots, out + item * D);
        }
    });
}

}  // namespace kite::ops::cpu

namespace kite::ops {

uint8_t f32_to_e4m3(float x) {
    if (std::isnan(x)) return 0x7f;
    const uint8_t sign = std::signbit(x) ? 0x80 : 0;
    const float a = std::fabs(x);
    if (a >= 448.0f) return sign | 0x7e;  // saturate (E4M3FN has no infinity)
    if (a < std::ldexp(1.0f, -6)) {       // subnormal: multiples of 2^-9 (8 of them round up to the smallest normal)
        return sign | static_cast<uint8_t>(std::nearbyint(std::ldexp(a, 9)));
    }
    int e;
    const float frac = std::frexp(a, &e);  // a = frac * 2^e, frac in [0.5, 1)
    int m = static_cast<int>(std::nearbyint((frac * 2.0f - 1.0f) * 8.0f));
    int exp = e - 1 + 7;
    if (m == 8) m = 0, ++exp;
    const int code = (exp << 3) | m;
    return sign | static_cast<uint8_t>(std::min(code, 0x7e));
}

float e4m3_to_f32(uint8_t code) { return cpu::e4m3_table()[code]; }

}  // namespace kite::ops
