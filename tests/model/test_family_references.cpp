// Every family beyond Llama against transformers 5.23 (shared/families/<name>: tiny random-weight
// checkpoints, f32 logits at every prompt position and 24 greedy ids for 4 prompts), and the
// batch-invariance property for each: a sequence's logits are bit-identical alone or batched and
// chunked with others.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>

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

class Family : public ::testing::TestWithParam<std::string> {};

TEST_P(Family, LogitsAndGreedyMatchTransformers) {
    check_against_reference(kFamilies + GetParam(), kFamilies + GetParam());
}

// The same checkpoints as GGUF files, written by tests/py/test_gguf_families.py with the gguf
// package (llama.cpp's tensor names and converter layouts) into KITE_GGUF_FAMILIES_DIR; that
// script runs this test. Without the variable there is nothing to check.
TEST_P(Family, GgufMatchesTransformers) {
    const char* dir = std::getenv("KITE_GGUF_FAMILIES_DIR");
    if (dir == nullptr) GTEST_SKIP() << "run through tests/py/test_gguf_families.py";
    check_against_reference(kFamilies + GetParam(), std::string(dir) + "/" + GetParam() + ".gguf");
}

TEST_P(Family, RaggedBatchesAndChunksGiveIdenticalLogits) {
    auto model = load_model(kFamilies + GetParam());
    ASSERT_TRUE(model.ok()) << model.status().message();
    const int vocab = static_cast<int>((*model)->config().vocab_size);
    std::mt19937 gen(11);
    std::uniform_int_distribution<int> tok(3, vocab - 1);
    std::vector<std::vector<int32_t>> prompts;
    for (int len : {1, 9, 23, 40}) {
        std::vector<int32_t> p;
        for (int i = 0; i < len; ++i) p.push_back(tok(gen));
        prompts.push_back(p);
    }
    std::vector<std::vector<float>> alone;
    for (const auto& p : prompts) {
        auto kv = KvCache::create((*model)->kv_shape(16, 4));
        TestSequence s;
        int next = 0;
        auto rows = run_step(**model, *kv, {&s}, {p}, false, &next);
        ASSERT_TRUE(rows.ok()) << rows.status().message();
        alone.push_back((*rows)[0]);
    }
    auto kv = KvCache::create((*model)->kv_shape(64, 4));
    std::vector<TestSequence> seqs(prompts.size());
    std::vector<std::vector<float>> last(prompts.size());
    int next_block = 0;
    for (size_t done = 0;; done += 5) {
        std::vector<TestSequence*> batch;
        std::vector<std::vector<int32_t>> chunks;
        std::vector<size_t> which;
        for (size_t i = 0; i < prompts.size(); ++i) {
            if (done >= prompts[i].size()) continue;
            const size_t end = std::min(prompts[i].size(), done + 5);
            batch.push_back(&seqs[i]);
            chunks.emplace_back(prompts[i].begin() + done, prompts[i].begin() + end);
            which.push_back(i);
        }
        if (batch.empty()) break;
        auto rows = run_step(**model, *kv, batch, chunks, false, &next_block);
        ASSERT_TRUE(rows.ok()) << rows.status().message();
        for (size_t b = 0; b < which.size(); ++b) last[which[b]] = (*rows)[b];
    }
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(last[i], alone[i]) << GetParam() << " prompt " << i;
}

INSTANTIATE_TEST_SUITE_P(Shared, Family,
                         ::testing::Values("phi3", "gemma2", "gemma3", "glm4", "starcoder2", "phi", "gpt_neox",
                                           "falcon", "gpt_bigcode", "bloom"));

// Options the shared checkpoints leave at one value, each in a tiny checkpoint with transformers'
// outputs (tests/data/families, made by tools/families/make_option_references.py).
class FamilyOption : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyOption, LogitsAndGreedyMatchTransformers) {
    const std::string dir = std::string(KITE_SOURCE_DIR) + "/tests/data/families/" + GetParam();
    check_against_reference(dir, dir);
}

// Option cases as GGUF (tests/py/test_gguf_families.py writes those llama.cpp's metadata can express).
class GgufFamilyOption : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufFamilyOption, GgufMatchesTransformers) {
    const char* dir = std::getenv("KITE_GGUF_FAMILIES_DIR");
    if (dir == nullptr) GTEST_SKIP() << "run through tests/py/test_gguf_families.py";
    check_against_reference(std::string(KITE_SOURCE_DIR) + "/tests/data/families/" + GetParam(),
                            std::string(dir) + "/" + GetParam() + ".gguf");
}

INSTANTIATE_TEST_SUITE_P(Options, GgufFamilyOption,
                         ::testing::Values("phi3_longrope", "falcon_new_arch", "gpt_neox_sequential"));

INSTANTIATE_TEST_SUITE_P(Options, FamilyOption,
                         ::testing::Values("phi3_longrope", "falcon_new_arch", "falcon_new_arch_one_norm",
                                           "falcon_sequential_mha", "falcon_alibi", "gpt_neox_sequential",
                                           "gemma3_scaled_rope", "gemma2_no_caps", "starcoder2_no_bias",
                                           "gpt_bigcode_mha", "bloom_residual_post_ln", "phi_qk_layernorm",
                                           "glm4_no_bias"));

}  // namespace
}  // namespace kite
