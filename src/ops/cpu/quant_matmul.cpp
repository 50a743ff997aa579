// ops::quant_matmul: y = x W^T computed straight from GGUF blocks or 16-bit floats, activations in
// f32. The weights are expanded to f32 in registers exactly as ops::dequantize would (bf16/f16 widen
// exactly), and every output element is accumulated in gemm_nt_f32's fixed order, so the result is
// bit-identical to dequantizing at load and running the f32 GEMM, for any number of rows: the
// quantized default keeps the f32 path's logits and the engine's batch invariance.
//
// Two shapes of work. Up to kMaxRegRows rows (decode): register tiles of R rows x C weight rows
// expand each block once per tile and stream the weights. More rows (prefill): a panel of weight
// rows is expanded into an L2-sized f32 buffer once and gemm_nt_f32_panel reuses it for every row
// of x, which runs at the f32 GEMM's speed.
#pragma GCC optimize("fp-contract=off")  // see quant_blocks.h: d * q + m must round twice
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/gemm_panel.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/quant_blocks.h"
#include "ops/quant.h"

namespace kite::ops {

namespace {

using cpu::hsum_f32x8;

constexpr int kMaxRegRows = 4;
// Columns per parallel unit: a multiple of every register tile width (8, 6, 4, 3).
constexpr int64_t kUnitCols = 24;
// Multiply-adds below which a chunk is not worth a thread hand-off.
constexpr int64_t kMinMacsPerChunk = 64 * 1024;
// f32 bytes of expanded weight rows kept hot in L2 while every row of x passes over them.
constexpr int64_t kPanelBytes = 256 * 1024;

template <class Q>
constexpr bool kSixteenBit = std::is_same_v<Q, qblk::F16> || std::is_same_v<Q, qblk::BF16>;

// Eight 16-bit floats from element k of a row, widened exactly; `count` < 8 zero-fills the rest (as
// gemm_nt_f32's masked tail loads do).
template <class Q>
inline __m256 load8_16(const uint8_t* row, int64_t k, int count) {
    uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t* p = row + 2 * k;
    if (count < 8) {
        std::memcpy(tmp, p, 2 * count);
        p = reinterpret_cast<const uint8_t*>(tmp);
    }
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (std::is_same_v<Q, qblk::F16>) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

inline __m256i tail_mask(int count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// R rows of x (stride K) times C weight rows (stride row_bytes) -> out (stride ldo).
template <class Q, int R, int C>
void reg_tile(const float* x, int64_t K, const uint8_t* w, int64_t row_bytes, const float* bias, float* out,
              int64_t ldo) {
    __m256 acc[R][C];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    constexpr int kSubs = Q::kElems / 32;
    const int64_t nb = K / Q::kElems;
    for (int64_t b = 0; b < nb; ++b) {
        for (int s = 0; s < kSubs; ++s) {
            const int64_t k = b * Q::kElems + 32 * s;
#pragma GCC unroll 16
            for (int c = 0; c < C; ++c) {
                const uint8_t* blk = w + c * row_bytes + b * Q::kBytes;
                // Each weight is streamed once per call: fetch two tiles ahead (a few KB) so DRAM
                // latency overlaps the arithmetic instead of stalling the loads.
                if (s == 0) _mm_prefetch(reinterpret_cast<const char*>(blk + 2 * C * row_bytes), _MM_HINT_T0);
                __m256 v[4];
                Q::load(blk, s, v);
#pragma GCC unroll 16
                for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
                    for (int g = 0; g < 4; ++g)
                        acc[r][c] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * K + k + 8 * g), v[g], acc[r][c]);
                }
            }
        }
    }
    if constexpr (kSixteenBit<Q>) {  // K need not be a multiple of 32 for plain floats
        for (int64_t k = nb * 32; k < K; k += 8) {
            const int count = static_cast<int>(std::min<int64_t>(8, K - k));
            const __m256i mask = tail_mask(count);
#pragma GCC unroll 16
            for (int c = 0; c < C; ++c) {
                const __m256 v = load8_16<Q>(w + c * row_bytes, k, count);
#pragma GCC unroll 16
                for (int r = 0; r < R; ++r)
                    acc[r][c] = _mm256_fmadd_ps(_mm256_maskload_ps(x + r * K + k, mask), v, acc[r][c]);
            }
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
        for (int c = 0; c < C; ++c) {
            const float s = hsum_f32x8(acc[r][c]);
            out[r * ldo + c] = bias ? s + bias[c] : s;
        }
    }
}

template <class Q, int R, int C>
void reg_cols(const float* x, int64_t K, const uint8_t* w, int64_t row_bytes, int64_t n0, int64_t n1,
              const float* bias, float* out, int64_t N) {
    int64_t n = n0;
    for (; n + C <= n1; n += C) reg_tile<Q, R, C>(x, K, w + n * row_bytes, row_bytes, bias ? bias + n : nullptr, out + n, N);
    for (; n < n1; ++n) reg_tile<Q, R, 1>(x, K, w + n * row_bytes, row_bytes, bias ? bias + n : nullptr, out + n, N);
}

// Weight rows [n0, n0 + rows) expanded to f32 into buf [rows, K].
template <class Q>
void expand_rows(const uint8_t* w, int64_t row_bytes, int64_t K, int64_t n0, int64_t rows, float* buf) {
    constexpr int kSubs = Q::kElems / 32;
    const int64_t nb = K / Q::kElems;
    for (int64_t i = 0; i < rows; ++i) {
        const uint8_t* row = w + (n0 + i) * row_bytes;
        float* dst = buf + i * K;
        for (int64_t b = 0; b < nb; ++b) {
            for (int s = 0; s < kSubs; ++s) {
                __m256 v[4];
                Q::load(row + b * Q::kBytes, s, v);
                float* d = dst + b * Q::kElems + 32 * s;
#pragma GCC unroll 4
                for (int g = 0; g < 4; ++g) _mm256_storeu_ps(d + 8 * g, v[g]);
            }
        }
        if constexpr (kSixteenBit<Q>) {
            for (int64_t k = nb * 32; k < K; ++k) {
                uint16_t h;
                std::memcpy(&h, row + 2 * k, 2);
                dst[k] = std::is_same_v<Q, qblk::F16> ? f16_to_f32(h) : bf16_to_f32(h);
            }
        }
    }
}

template <class Q>
void matmul(const float* x, int64_t T, int64_t K, const uint8_t* w, int64_t N, const float* bias, float* out) {
    const int64_t row_bytes = kSixteenBit<Q> ? 2 * K : K / Q::kElems * Q::kBytes;
    const int64_t units = (N + kUnitCols - 1) / kUnitCols;
    const int64_t grain = std::max<int64_t>(1, kMinMacsPerChunk / (T * K * kUnitCols));
    if (T <= kMaxRegRows) {
        parallel_for(units, grain, [&](int64_t ub, int64_t ue) {
            const int64_t n0 = ub * kUnitCols, n1 = std::min(N, ue * kUnitCols);
            switch (T) {
                case 1: reg_cols<Q, 1, 8>(x, K, w, row_bytes, n0, n1, bias, out, N); break;
                case 2: reg_cols<Q, 2, 6>(x, K, w, row_bytes, n0, n1, bias, out, N); break;
                case 3: reg_cols<Q, 3, 4>(x, K, w, row_bytes, n0, n1, bias, out, N); break;
                default: reg_cols<Q, 4, 3>(x, K, w, row_bytes, n0, n1, bias, out, N); break;
            }
        });
        return;
    }
    const int64_t panel = std::max<int64_t>(kUnitCols, kPanelBytes / (K * int64_t(sizeof(float))) / kUnitCols * kUnitCols);
    parallel_for(units, grain, [&](int64_t ub, int64_t ue) {
        const int64_t n_end = std::min(N, ue * kUnitCols);
        std::vector<float> buf(std::min(panel, n_end - ub * kUnitCols) * K);
        for (int64_t n0 = ub * kUnitCols; n0 < n_end; n0 += panel) {
            const int64_t rows = std::min(panel, n_end - n0);
            expand_rows<Q>(w, row_bytes, K, n0, rows, buf.data());
            cpu::gemm_nt_f32_panel(x, T, K, buf.data(), rows, bias ? bias + n0 : nullptr, out + n0, N);
        }
    });
}

}  // namespace

void quant_matmul(const float* x, int64_t num_tokens, int64_t in_features, const Tensor& w, float* out,
                  const float* bias) {
    KITE_CHECK_MSG(w.ndim() == 2 && w.dim(1) == in_features, "quant_matmul: weight " + w.shape_string() +
                                                                   " does not match in_features " +
                                                                   std::to_string(in_features));
    KITE_CHECK_MSG(in_features % dtype_block_elems(w.dtype()) == 0 &&
                       (!dtype_is_quantized(w.dtype()) || in_features % 32 == 0),
                   "quant_matmul: in_features " + std::to_string(in_features) + " not a multiple of the " +
                       dtype_name(w.dtype()) + " block");
    const auto* wp = w.data<uint8_t>();
    const int64_t N = w.dim(0), T = num_tokens, K = in_features;
    if (T <= 0 || N <= 0) return;
    if (use_int8_activations() && int8_matmul_supports(w.dtype())) {
        int8_matmul(x, T, K, w, out, bias);
        return;
    }
    switch (w.dtype()) {
        case DType::kQ8_0: matmul<qblk::Q8_0>(x, T, K, wp, N, bias, out); return;
        case DType::kQ4_0: matmul<qblk::Q4_0>(x, T, K, wp, N, bias, out); return;
        case DType::kQ4_1: matmul<qblk::Q4_1>(x, T, K, wp, N, bias, out); return;
        case DType::kQ5_0: matmul<qblk::Q5_0>(x, T, K, wp, N, bias, out); return;
        case DType::kQ5_1: matmul<qblk::Q5_1>(x, T, K, wp, N, bias, out); return;
        case DType::kQ4_K: matmul<qblk::Q4_K>(x, T, K, wp, N, bias, out); return;
        case DType::kQ5_K: matmul<qblk::Q5_K>(x, T, K, wp, N, bias, out); return;
        case DType::kQ6_K: matmul<qblk::Q6_K>(x, T, K, wp, N, bias, out); return;
        case DType::kF16: matmul<qblk::F16>(x, T, K, wp, N, bias, out); return;
        case DType::kBF16: matmul<qblk::BF16>(x, T, K, wp, N, bias, out); return;
        case DType::kF32: cpu::gemm_nt_f32(x, T, K, w.data<float>(), N, bias, out); return;
        case DType::kI32: case DType::kI64: case DType::kU8: case DType::kI8: break;
    }
    KITE_CHECK_MSG(false, std::string("quant_matmul: unsupported weight dtype ") + dtype_name(w.dtype()));
}

}  // namespace kite::ops
