// The 8-bit KV cache ops (ops/kv_quant.h): FP8 E4M3FN against its definition (bias 7, subnormals,
// 448 max, ties to even), the stored rows within half a step of the f32 rows, and 8-bit attention
// against the f32 paged attention run on the dequantized rows (GQA, sliding window, soft-cap,
// ALiBi, ragged batch, head sizes that are not multiples of 8).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/kv_quant.h"
#include "ops/ops.h"
#include "test_ops_util.h"

namespace kite::ops {
namespace {

using testing::random_floats;
using testing::tensor_of;

TEST(KvQuant, E4m3MatchesItsDefinition) {
    EXPECT_EQ(e4m3_to_f32(0x38), 1.0f);
    EXPECT_EQ(e4m3_to_f32(0x3c), 1.5f);
    EXPECT_EQ(e4m3_to_f32(0x7e), 448.0f);
    EXPECT_EQ(e4m3_to_f32(0xfe), -448.0f);
    EXPECT_EQ(e4m3_to_f32(0x08), std::ldexp(1.0f, -6));   // smallest normal
    EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));   // smallest subnormal
    EXPECT_EQ(e4m3_to_f32(0x07), 7 * std::ldexp(1.0f, -9));
    EXPECT_TRUE(std::isnan(e4m3_to_f32(0x7f)));
    for (int c = 0; c < 256; ++c) {
        if ((c & 0x7f) == 0x7f) continue;
        const int code = (c & 0x7f) == 0 ? 0 : c;  // -0 encodes as +0's sign bit kept
        EXPECT_EQ(f32_to_e4m3(e4m3_to_f32(static_cast<uint8_t>(c))) & 0x7f, code & 0x7f) << c;
    }
    EXPECT_EQ(f32_to_e4m3(1.0625f), 0x38);   // tie between 1.0 (even) and 1.125: to even
    EXPECT_EQ(f32_to_e4m3(1.1875f), 0x3a);   // tie between 1.125 and 1.25 (even)
    EXPECT_EQ(f32_to_e4m3(1000.0f), 0x7e);   // saturates
    EXPECT_EQ(f32_to_e4m3(-1000.0f), 0xfe);
    EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -10)), 0x00);  // half the smallest subnormal: tie to even 0
}

struct Geom {
    int64_t heads, kv_heads, D, block_size, blocks;
};

// Writes random K/V for a ragged batch into 8-bit pools, checks the rows, then compares attention.
void run_case(KvCacheDtype dtype, const Geom& s, int window, bool softcap_alibi) {
    const std::vector<int32_t> ctx = {5, 37, 1};
    const std::vector<int32_t> n_new = {5, 3, 1};  // a prefill, a chunk after cached tokens, a decode
    std::vector<std::vector<int32_t>> tables(ctx.size());
    int32_t next = static_cast<int32_t>(s.blocks) - 1;  // blocks handed out from the end: tables are not 0, 1, 2...
    for (size_t q = 0; q < ctx.size(); ++q)
        for (int32_t b = 0; b * s.block_size < ctx[q]; ++b) tables[q].push_back(next--);
    ASSERT_GE(next, -1);
    const DType code = dtype == KvCacheDtype::kInt8 ? DType::kI8 : DType::kU8;
    Tensor kp = Tensor::zeros(code, {s.blocks, s.block_size, s.kv_heads, s.D}), vp = Tensor::zeros(code, kp.shape());
    Tensor ks = Tensor::zeros(DType::kF32, {s.blocks, s.block_size, s.kv_heads}), vs = Tensor::zeros(DType::kF32, ks.shape());
    // Every token of every sequence is written (all context), in one call.
    std::vector<int64_t> slot_mapping;
    for (size_t q = 0; q < ctx.size(); ++q)
        for (int32_t p = 0; p < ctx[q]; ++p) slot_mapping.push_back(int64_t(tables[q][p / s.block_size]) * s.block_size + p % s.block_size);
    const int64_t T_all = static_cast<int64_t>(slot_mapping.size()), row = s.kv_heads * s.D;
    const std::vector<float> k = random_floats(T_all * row, 1, -3.0f, 3.0f), v = random_floats(T_all * row, 2, -2.0f, 2.0f);
    ASSERT_TRUE(write_kv_quant(dtype, tensor_of(k, {T_all, s.kv_heads, s.D}), tensor_of(v, {T_all, s.kv_heads, s.D}),
                               slot_mapping, kp, vp, ks, vs).is_ok());
    // Dequantized f32 pools, and each row within half a step (int8) / 2^-4 relative (fp8) of the input.
    Tensor kf = Tensor::zeros(DType::kF32, kp.shape()), vf = Tensor::zeros(DType::kF32, kp.shape());
    for (int pass = 0; pass < 2; ++pass) {
        const Tensor& codes = pass ? vp : kp;
        const Tensor& sc = pass ? vs : ks;
        Tensor& f = pass ? vf : kf;
        const std::vector<float>& src = pass ? v : k;
        for (int64_t t = 0; t < T_all; ++t)
            for (int64_t h = 0; h < s.kv_heads; ++h) {
                const float scale = sc.data<float>()[slot_mapping[t] * s.kv_heads + h];
                float amax = 0;
                for (int64_t d = 0; d < s.D; ++d) amax = std::max(amax, std::abs(src[t * row + h * s.D + d]));
                for (int64_t d = 0; d < s.D; ++d) {
                    const int64_t i = slot_mapping[t] * row + h * s.D + d;
                    const uint8_t c = codes.data<uint8_t>()[i];
                    const float deq = scale * (dtype == KvCacheDtype::kInt8 ? float(int8_t(c)) : e4m3_to_f32(c));
                    f.data<float>()[i] = deq;
                    const float x = src[t * row + h * s.D + d];
                    const float bound = dtype == KvCacheDtype::kInt8 ? 0.5f * amax / 127 : std::abs(x) / 16 + scale * std::ldexp(1.0f, -10);
                    ASSERT_LE(std::abs(deq - x), bound * 1.0001f + 1e-7f);
                }
            }
    }
    // Attention of the new rows.
    std::vector<int32_t> qs = {0};
    for (int32_t n : n_new) qs.push_back(qs.back() + n);
    const int64_t T = qs.back();
    Tensor q = tensor_of(random_floats(T * s.heads * s.D, 3), {T, s.heads, s.D});
    Tensor got = Tensor::zeros(DType::kF32, {T, s.heads, s.D}), want = Tensor::zeros(DType::kF32, {T, s.heads, s.D});
    AttentionParams p;
    p.scale = 0.3f;
    p.sliding_window = window;
    std::vector<float> slopes;
    if (softcap_alibi) {
        p.logit_softcap = 0.5f;
        for (int64_t h = 0; h < s.heads; ++h) slopes.push_back(0.1f * float(h + 1));
        p.alibi_slopes = slopes;
    }
    ASSERT_TRUE(paged_attention_quant(dtype, q, kp, vp, ks, vs, qs, ctx, tables, p, got).is_ok());
    ASSERT_TRUE(paged_attention(q, kf, vf, qs, ctx, tables, p, want).is_ok());
    for (int64_t i = 0; i < got.numel(); ++i) ASSERT_NEAR(got.data<float>()[i], want.data<float>()[i], 2e-5) << i;
}

TEST(KvQuant, AttentionMatchesF32AttentionOnTheDequantizedRows) {
    for (KvCacheDtype d : {KvCacheDtype::kInt8, KvCacheDtype::kFp8})
        for (Geom s : {Geom{4, 2, 64, 8, 10}, Geom{6, 3, 12, 4, 16}, Geom{2, 1, 72, 16, 10}})
            for (int window : {0, 4})
                for (bool extra : {false, true}) {
                    SCOPED_TRACE("fp8 " + std::to_string(d == KvCacheDtype::kFp8) + " D " + std::to_string(s.D) + " window " +
                                 std::to_string(window) + " softcap+alibi " + std::to_string(extra));
                    run_case(d, s, window, extra);
                }
}

TEST(KvQuant, BadPoolsAreErrors) {
    Tensor k = Tensor::zeros(DType::kF32, {1, 2, 8});
    Tensor kp = Tensor::zeros(DType::kF32, {2, 4, 2, 8}), vp = kp;  // f32 pools are not 8-bit pools
    Tensor ks = Tensor::zeros(DType::kF32, {2, 4, 2}), vs = ks;
    const std::vector<int64_t> slots = {0};
    EXPECT_FALSE(write_kv_quant(KvCacheDtype::kInt8, k, k, slots, kp, vp, ks, vs).is_ok());
    Tensor kc = Tensor::zeros(DType::kI8, {2, 4, 2, 8}), vc = kc;
    EXPECT_TRUE(write_kv_quant(KvCacheDtype::kInt8, k, k, slots, kc, vc, ks, vs).is_ok());
    const std::vector<int64_t> bad = {99};
    EXPECT_FALSE(write_kv_quant(KvCacheDtype::kInt8, k, k, bad, kc, vc, ks, vs).is_ok());
    EXPECT_FALSE(write_kv_quant(KvCacheDtype::kFp8, k, k, slots, kc, vc, ks, vs).is_ok());  // fp8 codes are U8
}

}  // namespace
}  // namespace kite::ops
