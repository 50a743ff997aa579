// Per-token kernels: embedding gather, rotary embedding, K/V slot writes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/kernels.h"
#include "ops/quant.h"

namespace kite::ops::cpu {

void embedding(const Tensor& table, std::span<const int32_t> ids, float* out) {
    const int64_t H = table.dim(1);
    const int64_t row_bytes = dtype_bytes_for(table.dtype(), H);
    const auto* base = static_cast<const uint8_t*>(table.raw());
    for (size_t t = 0; t < ids.size(); ++t) {
        const uint8_t* row = base + row_bytes * ids[t];
        float* o = out + t * H;
        switch (table.dtype()) {
            case DType::kF32: std::memcpy(o, row, H * sizeof(float)); break;
            case DType::kBF16:
                for (int64_t i = 0; i < H; ++i) o[i] = bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[i]);
                break;
            case DType::kF16:
                for (int64_t i = 0; i < H; ++i) o[i] = f16_to_f32(reinterpret_cast<const uint16_t*>(row)[i]);
                break;
            default: {
                const Status st = dequantize(table.dtype(), row, o, H);
                KITE_CHECK_MSG(st.is_ok(), st.message());
            }
        }
    }
}

void rope(float* x, int64_t T, int64_t heads, int64_t head_dim, const float* cos, const float* sin, int rot_dim,
          RopeLayout layout) {
    const int half = rot_dim / 2;
    // Pair i is (v[i], v[i + half]) or (v[2i], v[2i + 1]): first element at lo * i, partner `step` on.
    const int lo = layout == RopeLayout::kHalves ? 1 : 2, step = layout == RopeLayout::kHalves ? half : 1;
    for (int64_t t = 0; t < T; ++t) {
        const float* c = cos + t * half;
        const float* s = sin + t * half;
        for (int64_t h = 0; h < heads; ++h) {
            float* v = x + (t * heads + h) * head_dim;
            for (int i = 0; i < half; ++i) {
                float* pa = v + lo * i;
                const float a = pa[0], b = pa[step];
                pa[0] = a * c[i] - b * s[i];
                pa[step] = b * c[i] + a * s[i];
            }
        }
    }
}

void write_kv(const float* k, const float* v, int64_t T, int64_t k_row, int64_t v_row, std::span<const int64_t> slots,
              float* k_pool, float* v_pool) {
    for (int64_t t = 0; t < T; ++t) {
        std::memcpy(k_pool + slots[t] * k_row, k + t * k_row, k_row * sizeof(float));
        std::memcpy(v_pool + slots[t] * v_row, v + t * v_row, v_row * sizeof(float));
    }
}

}  // namespace kite::ops::cpu
