// The MoE families (Mixtral, Qwen3-MoE, DeepSeek-V3 with multi-head latent attention) against
// transformers 5's per-position logits and greedy continuations of shared/families; and the MLA
// cache: one latent row per token and layer, a sequence's logits the same bits alone or batched.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "io/safetensors.h"
#include "model/model.h"
#include "model_test_util.h"

namespace kite {
namespace {

using testing::argmax;
using testing::run_step;
using testing::TestSequence;

const std::string kFamilies = std::string(KITE_SHARED_DIR) + "/families/";

std::vector<int32_t> ids_of(const Tensor& t) {
    std::vector<int32_t> v;
    for (int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<int32_t>(t.data<int64_t>()[i]));
    return v;
}

class MoeReference : public ::testing::TestWithParam<std::string> {};

TEST_P(MoeReference, LogitsAndGreedyMatchTransformers) {
    const std::string dir = kFamilies + GetParam();
    auto model = load_model(dir);
    ASSERT_TRUE(model.ok()) << model.status().message();
    auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    for (int p = 0; p < 4; ++p) {
        const std::string key = "prompt" + std::to_string(p);
        auto ids_t = (*ref)->get(key + ".ids");
        auto logits_t = (*ref)->get(key + ".logits");
        auto greedy_t = (*ref)->get(key + ".greedy");
        ASSERT_TRUE(ids_t.ok() && logits_t.ok() && greedy_t.ok());
        const std::vector<int32_t> ids = ids_of(*ids_t), greedy = ids_of(*greedy_t);
        const int64_t V = logits_t->dim(1);
        auto kv = KvCache::create((*model)->kv_shape(16, 8));
        ASSERT_TRUE(kv.ok()) << kv.status().message();
        TestSequence seq;
        int next_block = 0;
        auto rows = run_step(**model, *kv, {&seq}, {ids}, /*all_rows=*/true, &next_block);
        ASSERT_TRUE(rows.ok()) << rows.status().message();
        double max_diff = 0;
        for (size_t t = 0; t < ids.size(); ++t) {
            const float* want = logits_t->data<float>() + t * V;
            float top = 0;
            for (int64_t v = 0; v < V; ++v) top = std::max(top, std::abs(want[v]));
            double row_diff = 0;
            for (int64_t v = 0; v < V; ++v) row_diff = std::max<double>(row_diff, std::abs((*rows)[t][v] - want[v]));
            max_diff = std::max(max_diff, row_diff / std::max(1.0f, top));
        }
        std::printf("%s prompt %d (%zu tokens): max |logit diff| / max(1, |largest logit|) = %.3g\n",
                    GetParam().c_str(), p, ids.size(), max_diff);
        EXPECT_LT(max_diff, 1e-4) << GetParam() << " prompt " << p;
        std::vector<int32_t> got;
        int32_t next = argmax(rows->back());
        for (size_t i = 0; i < greedy.size(); ++i) {
            got.push_back(next);
            auto step = run_step(**model, *kv, {&seq}, {{next}}, false, &next_block);
            ASSERT_TRUE(step.ok()) << step.status().message();
            next = argmax((*step)[0]);
        }
        EXPECT_EQ(got, greedy) << GetParam() << " prompt " << p;
    }
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
    // layers, vocab 256, f32 at load. Per layer: 2 norms (128) + q,k,v,o (4096 + 2048 + 2048 + 4096)
    // + router (4 x 64) + 2 experts x 3 x 96 x 64; then the final norm and lm_head (256 x 64).
    auto model = load_model(kFamilies + "mixtral");
    ASSERT_TRUE(model.ok()) << model.status().message();
    const int64_t per_layer = 128 + 12288 + 256 + 2 * 3 * 96 * 64;
    EXPECT_EQ((*model)->weight_bytes_per_step(), (3 * per_layer + 64 + 256 * 64) * 4);
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
