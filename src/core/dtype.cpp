#include "core/dtype.h"

namespace kite {

namespace {
struct DTypeInfo {
    const char* name;
    int64_t block_elems;
    int64_t block_bytes;
};
// Quantized layouts follow GGUF/ggml: QK4_0 = 32 elems, QK_K = 256 elems per super-block.
constexpr DTypeInfo kInfo[] = {
    {"f32", 1, 4},      {"f16", 1, 2},       {"bf16", 1, 2},      {"i32", 1, 4},
    {"i64", 1, 8},      {"u8", 1, 1},        {"i8", 1, 1},        {"q8_0", 32, 34},
    {"q4_0", 32, 18},   {"q4_1", 32, 20},    {"q5_0", 32, 22},    {"q5_1", 32, 24},
    {"q4_k", 256, 144}, {"q5_k", 256, 176},  {"q6_k", 256, 210},
};
const DTypeInfo& info(DType t) { return kInfo[static_cast<int>(t)]; }
}  // namespace

const char* dtype_name(DType t) { return info(t).name; }
int64_t dtype_block_elems(DType t) { return info(t).block_elems; }
int64_t dtype_block_bytes(DType t) { return info(t).block_bytes; }
bool dtype_is_quantized(DType t) { return info(t).block_elems > 1; }
int64_t dtype_bytes_for(DType t, int64_t n) { return n / info(t).block_elems * info(t).block_bytes; }

float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ff;
            u = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 0x1f) {
        u = sign | 0x7f800000 | (mant << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000;
    const uint32_t abs = u & 0x7fffffff;
    if (abs > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00);
    if (abs >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // overflow -> inf
    if (abs < 0x38800000) {                                             // subnormal or zero
        if (abs < 0x33000000) return static_cast<uint16_t>(sign);
        const uint32_t e = abs >> 23;
        uint32_t m = (abs & 0x7fffff) | 0x800000;
        const uint32_t shift = 126 - e;  // 113 - e + 13
        uint32_t half = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) ++half;
        return static_cast<uint16_t>(sign | half);
    }
    uint32_t h = ((abs - 0x38000000) >> 13);
    const uint32_t rem = abs & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
}

}  // namespace kite
