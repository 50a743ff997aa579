// Element types kite stores and computes in, and their conversions to float.
// Block-quantized types (GGUF's Q4_0 ... Q6_K) are described by a block size in elements and a
// block size in bytes; their (de)quantization lives in ops/, not here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace kite {

enum class DType : uint8_t {
    kF32, kF16, kBF16, kI32, kI64, kU8, kI8,
    kQ8_0, kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ4_K, kQ5_K, kQ6_K,
};

const char* dtype_name(DType t);
// Elements per block (1 for plain types) and bytes per block.
int64_t dtype_block_elems(DType t);
int64_t dtype_block_bytes(DType t);
bool dtype_is_quantized(DType t);
// Bytes for n elements; n must be a multiple of the block size for quantized types.
int64_t dtype_bytes_for(DType t, int64_t n);

inline float bf16_to_f32(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline uint16_t f32_to_bf16(float f) {  // round to nearest even
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
    u += 0x7fff + ((u >> 16) & 1);
    return static_cast<uint16_t>(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace kite
