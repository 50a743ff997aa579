// ops::dequantize: GGUF blocks to f32, one plain loop per type, bit-exact with the `gguf` PyPI
// package (gguf.quants.dequantize). Layouts are ggml's; see docs/gguf.md for each block.
//
// Bit-exactness needs every product and sum rounded on its own, as numpy does: the compiler must
// not fuse `d * q - m` into one FMA (GCC does so by default with -mfma), hence the pragma.
#pragma GCC optimize("fp-contract=off")
#include <cstring>

#include "ops/quant.h"

namespace kite::ops {

namespace {

inline float h2f(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return f16_to_f32(h);
}

void deq_q8_0(const uint8_t* b, float* y) {  // {f16 d; i8 q[32]}
    const float d = h2f(b);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

void deq_q4_0(const uint8_t* b, float* y) {  // {f16 d; u8 qs[16]}: low nibbles 0..15, high 16..31
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
        y[j] = d * static_cast<float>((qs[j] & 0x0f) - 8);
        y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
    }
}

void deq_q4_1(const uint8_t* b, float* y) {  // {f16 d; f16 m; u8 qs[16]}
    const float d = h2f(b), m = h2f(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
        y[j] = d * static_cast<float>(qs[j] & 0x0f) + m;
        y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
    }
}

// Q5: element e's fifth bit is bit e of the little-endian u32 qh.
void deq_q5_0(const uint8_t* b, float* y) {  // {f16 d; u8 qh[4]; u8 qs[16]}
    const float d = h2f(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1) << 4);
        const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
        y[j] = d * static_cast<float>(lo - 16);
        y[j + 16] = d * static_cast<float>(hi - 16);
    }
}

void deq_q5_1(const uint8_t* b, float* y) {  // {f16 d; f16 m; u8 qh[4]; u8 qs[16]}
    const float d = h2f(b), m = h2f(b + 2);
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1) << 4);
        const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
        y[j] = d * static_cast<float>(lo) + m;
        y[j + 16] = d * static_cast<float>(hi) + m;
    }
}

}  // namespace

// K-quants pack eight 6-bit (scale, min) pairs in 12 bytes: pairs 0-3 in the low 6 bits of bytes
// 0-3 / 4-7; pairs 4-7 take 4 low bits from bytes 8-11 and 2 high bits from the top of bytes 0-7.
void k_scale_min(const uint8_t* s, int j, uint8_t& sc, uint8_t& m) {
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = static_cast<uint8_t>((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
        m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

namespace {

// {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}: 8 sub-blocks of 32; 32 bytes of qs hold
// sub-block 2c in their low nibbles and 2c+1 in their high nibbles.
void deq_q4_k(const uint8_t* b, float* y) {
    const float d = h2f(b), dmin = h2f(b + 2);
    const uint8_t* sc = b + 4;
    const uint8_t* qs = b + 16;
    for (int j = 0; j < 8; ++j) {
        uint8_t s, m;
        k_scale_min(sc, j, s, m);
        const float d1 = d * static_cast<float>(s), m1 = dmin * static_cast<float>(m);
        const uint8_t* q = qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; ++l) y[32 * j + l] = d1 * static_cast<float>((q[l] >> shift) & 0x0f) - m1;
    }
}

// {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: as Q4_K plus a fifth bit, bit j of qh[l].
void deq_q5_k(const uint8_t* b, float* y) {
    const float d = h2f(b), dmin = h2f(b + 2);
    const uint8_t* sc = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* qs = b + 48;
    for (int j = 0; j < 8; ++j) {
        uint8_t s, m;
        k_scale_min(sc, j, s, m);
        const float d1 = d * static_cast<float>(s), m1 = dmin * static_cast<float>(m);
        const uint8_t* q = qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; ++l) {
            const int v = ((q[l] >> shift) & 0x0f) | (((qh[l] >> j) & 1) << 4);
            y[32 * j + l] = d1 * static_cast<float>(v) - m1;
        }
    }
}

// {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: two halves of 128; in half h, element r takes
// 4 bits from ql[64h + r%64] (shift 4*(r/64)) and 2 from qh[32h + r%32] (shift 2*(r/32)).
void deq_q6_k(const uint8_t* b, float* y) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = h2f(b + 208);
    for (int h = 0; h < 2; ++h) {
        for (int r = 0; r < 128; ++r) {
            const int lo = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0f;
            const int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 0x03;
            const int e = 128 * h + r;
            const float ds = d * static_cast<float>(sc[e / 16]);
            y[e] = ds * static_cast<float>((lo | (hi << 4)) - 32);
        }
    }
}

}  // namespace

Status dequantize(DType type, const void* src, float* dst, int64_t n) {
    const int64_t be = dtype_block_elems(type), bb = dtype_block_bytes(type);
    if (n < 0 || n % be != 0) {
        return invalid_argument(std::string("dequantize: ") + std::to_string(n) + " elements is not a multiple of the " +
                                dtype_name(type) + " block size " + std::to_string(be));
    }
    if (n == 0) return Status::ok();
    const auto* s = static_cast<const uint8_t*>(src);
    void (*block_fn)(const uint8_t*, float*) = nullptr;
    switch (type) {
        case DType::kF32:
            std::memcpy(dst, src, static_cast<size_t>(n) * 4);
            return Status::ok();
        case DType::kF16:
            for (int64_t i = 0; i < n; ++i) dst[i] = h2f(s + 2 * i);
            return Status::ok();
        case DType::kBF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, s + 2 * i, 2);
                dst[i] = bf16_to_f32(h);
            }
            return Status::ok();
        case DType::kQ8_0: block_fn = deq_q8_0; break;
        case DType::kQ4_0: block_fn = deq_q4_0; break;
        case DType::kQ4_1: block_fn = deq_q4_1; break;
        case DType::kQ5_0: block_fn = deq_q5_0; break;
        case DType::kQ5_1: block_fn = deq_q5_1; break;
        case DType::kQ4_K: block_fn = deq_q4_k; break;
        case DType::kQ5_K: block_fn = deq_q5_k; break;
        case DType::kQ6_K: block_fn = deq_q6_k; break;
        case DType::kI32: case DType::kI64: case DType::kU8: case DType::kI8:
            return invalid_argument(std::string("dequantize: ") + dtype_name(type) + " is not a float or quantized type");
    }
    for (int64_t i = 0; i < n / be; ++i) block_fn(s + i * bb, dst + i * be);
    return Status::ok();
}

}  // namespace kite::ops
