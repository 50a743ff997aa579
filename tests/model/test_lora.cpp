// PEFT adapter loading: scale = alpha / r (alpha / sqrt(r) with use_rslora), per-module rank from
// the tensors (rank_pattern) and alpha from alpha_pattern with PEFT's "(.*\.)?(key)$" matching, and
// the low-rank delta computed independently here. Adapters: shared/lora (README there).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "model/lora.h"

namespace kite {
namespace {

std::string lora_dir(const std::string& name) {
    const char* d = std::getenv("KITE_SHARED_DIR");
    return std::string(d ? d : "../shared") + "/lora/" + name;
}

TEST(Lora, PatternKeysMatchLikePeft) {
    const std::vector<std::string> keys = {"model.layers.0.mlp.down_proj", "o_proj"};
    EXPECT_EQ(lora_pattern_key(keys, "model.layers.0.mlp.down_proj"), &keys[0]);
    EXPECT_EQ(lora_pattern_key(keys, "model.layers.10.mlp.down_proj"), nullptr);  // not a suffix at a dot
    EXPECT_EQ(lora_pattern_key(keys, "model.layers.3.self_attn.o_proj"), &keys[1]);
    EXPECT_EQ(lora_pattern_key(keys, "model.layers.3.self_attn.xo_proj"), nullptr);
}

TEST(Lora, ScalesRanksAndPatterns) {
    auto qv = LoraAdapter::load(lora_dir("qv-r4"), "qv");
    if (!qv.ok() && qv.status().code() == StatusCode::kNotFound) GTEST_SKIP() << "shared/lora not found";
    ASSERT_TRUE(qv.ok()) << qv.status().message();
    const LoraModule* q = (*qv)->find("model.layers.0.self_attn.q_proj");
    ASSERT_NE(q, nullptr);
    EXPECT_FLOAT_EQ(q->scale, 8.0f / 4.0f);
    EXPECT_EQ((*qv)->find("model.layers.0.self_attn.k_proj"), nullptr);

    auto rs = LoraAdapter::load(lora_dir("all-r8-rslora"), "rs");
    ASSERT_TRUE(rs.ok()) << rs.status().message();
    EXPECT_FLOAT_EQ((*rs)->find("model.layers.1.mlp.gate_proj")->scale, static_cast<float>(16.0 / std::sqrt(8.0)));

    auto pat = LoraAdapter::load(lora_dir("mlp-r2-rank-pattern"), "pat");
    ASSERT_TRUE(pat.ok()) << pat.status().message();
    const LoraModule* down0 = (*pat)->find("model.layers.0.mlp.down_proj");
    ASSERT_NE(down0, nullptr);
    EXPECT_EQ(down0->a.dim(0), 6);
    EXPECT_FLOAT_EQ(down0->scale, 4.0f / 6.0f);  // rank_pattern r=6, default alpha 4
    EXPECT_FLOAT_EQ((*pat)->find("model.layers.1.self_attn.o_proj")->scale, 16.0f / 2.0f);  // alpha_pattern
    EXPECT_FLOAT_EQ((*pat)->find("model.layers.0.self_attn.o_proj")->scale, 4.0f / 2.0f);
    EXPECT_EQ((*pat)->max_rank(), 6);
}

TEST(Lora, DeltaIsScaleTimesBAx) {
    LoraModule m;
    m.a = Tensor::zeros(DType::kF32, {2, 3});
    m.b = Tensor::zeros(DType::kF32, {2, 2});
    const float A[6] = {1, 0, 2, 0, 1, -1}, B[4] = {1, 2, 3, 4};
    std::copy(A, A + 6, m.a.data<float>());
    std::copy(B, B + 4, m.b.data<float>());
    m.scale = 0.5f;
    Tensor x = Tensor::zeros(DType::kF32, {2, 3});
    const float X[6] = {1, 1, 1, 2, 0, 1};
    std::copy(X, X + 6, x.data<float>());
    Tensor out = Tensor::zeros(DType::kF32, {2, 4});
    ASSERT_TRUE(lora_add(m, x, 1, 2, out, 1).is_ok());  // token 1 only, columns 1..2
    // A x1 = (2+2, 0-1) = (4, -1); B (4, -1) = (4-2, 12-4) = (2, 8); * 0.5 = (1, 4).
    const float want[8] = {0, 0, 0, 0, 0, 1, 4, 0};
    for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(out.data<float>()[i], want[i]) << i;
}

TEST(Lora, BadAdaptersAreClearErrors) {
    auto missing = LoraAdapter::load("/no/such/adapter", "x");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("adapter_config.json"), std::string::npos);
    const std::string dir = ::testing::TempDir() + "/kite_lora_dora";
    std::system(("mkdir -p " + dir).c_str());
    std::ofstream(dir + "/adapter_config.json") << R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_dora": true})";
    auto dora = LoraAdapter::load(dir, "x");
    ASSERT_FALSE(dora.ok());
    EXPECT_NE(dora.status().message().find("DoRA"), std::string::npos);
}

}  // namespace
}  // namespace kite
