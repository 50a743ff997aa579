// The MoE families (Mixtral, Qwen3-MoE, DeepSeek-V3 with multi-head latent attention) against
// transformers 5's per-position logits and greedy continuations of shared/families; and the MLA
// cache: one latent row per token and layer, a sequence's logits the same bits alone or batched.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "io/safetensors.h"
#include "model/model.h"
#include "model_test_util.h"
#include "reference_check.h"

namespace kite {
namespace {

using testing::argmax;
using testing::check_against_reference;
using testing::ids_of;
using testing::run_step;
using testing::TestSequence;

const std::string kFamilies = std::string(KITE_SHARED_DIR) + "/families/";

class MoeReference : public ::testing::TestWithParam<std::string> {};

TEST_P(MoeReference, LogitsAndGreedyMatchTransformers) {
    check_against_reference(kFamilies + GetParam(), kFamilies + GetParam());
}

INSTANTIATE_TEST_SUITE_P(Families, MoeReference, ::testing::Values("mixtral", "qwen3_moe", "deepseek_v3"));

TEST(MlaCache, HoldsOneLatentRowPerTokenAndLayer) {
    auto model = load_model(kFamilies + "deepseek_v3");
    ASSERT_TRUE(model.ok()) << model.status().message();
    const KvCacheShape s = (*model)->kv_shape(4, 8);
    // kv_lora_rank 16 + qk_rope_head_dim 8 values per token and layer, no V pool; expanded heads
    // would take 4 heads x (24 key + 16 value) = 160.
    EXPECT_EQ(s.pools_per_layer, 1);
    EXPECT_EQ(s.num_kv_heads * s.head_dim, 16 + 8);
    EXPECT_EQ(s.bytes_per_block(), int64_t(3) * 8 * (16 + 8) * 4);
    auto kv = KvCache::create(s);
    ASSERT_TRUE(kv.ok());
    EXPECT_FALSE(kv->v(0).defined());
}

// A sequence's logits are the same bits alone (prefill in two chunks, then decode) or batched
// with another sequence that shares its experts and its steps: routing and expert sums are per
// token, whatever else is in the step.
class MoeBatchInvariance : public ::testing::TestWithParam<std::string> {};

TEST_P(MoeBatchInvariance, SequenceLogitsAreTheSameBitsAloneOrBatched) {
    auto model = load_model(kFamilies + GetParam());
    ASSERT_TRUE(model.ok()) << model.status().message();
    const std::vector<int32_t> a = {5, 9, 200, 31, 7, 7, 100}, b = {1, 2, 3};
    auto run = [&](bool batched) {
        auto kv = KvCache::create((*model)->kv_shape(16, 4));
        TestSequence sa, sb;
        int next = 0;
        std::vector<std::vector<float>> out;
        if (batched) {
            auto r = run_step(**model, *kv, {&sb, &sa}, {b, a}, true, &next);
            EXPECT_TRUE(r.ok());
            out.assign(r->begin() + b.size(), r->end());
            auto d = run_step(**model, *kv, {&sb, &sa}, {{4}, {11}}, false, &next);  // decode both
            out.push_back((*d)[1]);
        } else {
            auto r = run_step(**model, *kv, {&sa}, {{a.begin(), a.begin() + 3}}, true, &next);  // chunked prefill
            auto r2 = run_step(**model, *kv, {&sa}, {{a.begin() + 3, a.end()}}, true, &next);
            EXPECT_TRUE(r.ok() && r2.ok());
            out = *r;
            out.insert(out.end(), r2->begin(), r2->end());
            auto d = run_step(**model, *kv, {&sa}, {{11}}, false, &next);
            out.push_back((*d)[0]);
        }
        return out;
    };
    EXPECT_EQ(run(true), run(false));
}

INSTANTIATE_TEST_SUITE_P(Families, MoeBatchInvariance, ::testing::Values("mixtral", "qwen3_moe", "deepseek_v3"));

TEST(MoeBandwidth, DecodeBytesCountOnlyTheRoutedExperts) {
    // shared/families/mixtral: hidden 64, 4 heads / 2 KV heads of 16, 4 experts of 96, top 2, 3
    // layers, vocab 256 (f32 with dequantize_at_load). Per layer: 2 norms (128) + q,k,v,o (4096 + 2048 + 2048 + 4096)
    // + router (4 x 64) + 2 experts x 3 x 96 x 64; then the final norm and lm_head (256 x 64).
    LoadOptions f32;
    f32.dequantize_at_load = true;
    auto model = load_model(kFamilies + "mixtral", f32);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const int64_t per_layer = 128 + 12288 + 256 + 2 * 3 * 96 * 64;
    EXPECT_EQ((*model)->weight_bytes_per_step(), (3 * per_layer + 64 + 256 * 64) * 4);
    // By default the CPU keeps the checkpoint's bf16 matrices (2 bytes); norms are f32.
    auto stored = load_model(kFamilies + "mixtral");
    ASSERT_TRUE(stored.ok()) << stored.status().message();
    const int64_t matrices = 3 * (12288 + 256 + 2 * 3 * 96 * 64) + 256 * 64, norms = 3 * 128 + 64;
    EXPECT_EQ((*stored)->weight_bytes_per_step(), matrices * 2 + norms * 4);
}

TEST(MoeConfig, BadRoutingFieldsAreClearErrors) {
    // num_experts_per_tok above the expert count must be refused with the field named.
    const std::string dir = ::testing::TempDir() + "/kite_bad_moe";
    std::filesystem::create_directories(dir);
    std::FILE* f = std::fopen((dir + "/config.json").c_str(), "w");
    std::fputs(R"({"architectures": ["MixtralForCausalLM"], "vocab_size": 16, "hidden_size": 8,
        "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "num_local_experts": 2,
        "num_experts_per_tok": 3})", f);
    std::fclose(f);
    LoadOptions o;
    o.dummy_weights = true;
    auto model = load_model(dir, o);
    ASSERT_FALSE(model.ok());
    EXPECT_NE(model.status().message().find("num_experts_per_tok"), std::string::npos) << model.status().message();
}

}  // namespace
}  // namespace kite
