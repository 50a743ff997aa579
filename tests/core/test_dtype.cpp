// Half-precision conversions against values worked out by hand from IEEE-754.
#include <gtest/gtest.h>

#include <cmath>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"

namespace kite {

TEST(DType, F16RoundTripsExactValues) {
    EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
    EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
    EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
    EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
    EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
    EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie rounds to even
    for (uint32_t h = 0; h < 0x7c00; ++h) ASSERT_EQ(f32_to_f16(f16_to_f32(h)), h) << h;
}

TEST(DType, Bf16) {
    EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // tie to even
    EXPECT_EQ(dtype_bytes_for(DType::kQ4_0, 64), 36);
    EXPECT_EQ(dtype_bytes_for(DType::kQ6_K, 256), 210);
}

TEST(Tensor, SliceAndReshapeShareStorage) {
    Tensor t = Tensor::zeros(DType::kF32, {4, 3});
    t.data<float>()[6] = 5.0f;
    Tensor s = t.slice_rows(2, 4);
    EXPECT_EQ(s.shape_string(), "[2, 3]");
    EXPECT_EQ(s.data<float>()[0], 5.0f);
    EXPECT_EQ(t.reshape({12}).dim(0), 12);
}

TEST(Status, ResultCarriesValueOrError) {
    Result<int> a = 3;
    Result<int> b = invalid_argument("x: expected y");
    EXPECT_TRUE(a.ok());
    EXPECT_EQ(*a, 3);
    EXPECT_FALSE(b.ok());
    EXPECT_EQ(b.status().message(), "x: expected y");
}

}  // namespace kite
