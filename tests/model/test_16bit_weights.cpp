// bf16 / f16 checkpoints on the CPU are computed on their 16-bit weights (widened in registers):
// since widening to f32 is exact, logits must equal the f32 path's (LoadOptions::dequantize_at_load)
// bit for bit, for a prefill batch and for single-token decode steps, while each decode step reads
// half the weight bytes. (The f32 path itself is checked against transformers in
// test_reference_models.cpp.)
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "model/model.h"
#include "model_test_util.h"

namespace kite {
namespace {

using testing::run_step;
using testing::TestSequence;

// Logits of a 12-token prefill (every row) followed by 4 one-token decode steps.
std::vector<std::vector<float>> run(Model& model) {
    auto kv = KvCache::create(model.kv_shape(8, 4));
    EXPECT_TRUE(kv.ok());
    if (!kv.ok()) return {};
    const int64_t vocab = model.config().vocab_size;
    std::vector<int32_t> prompt;
    for (int i = 0; i < 12; ++i) prompt.push_back(static_cast<int32_t>((7 + 37 * i) % vocab));
    TestSequence seq;
    int next_block = 0;
    auto rows = run_step(model, *kv, {&seq}, {prompt}, /*all_rows=*/true, &next_block);
    EXPECT_TRUE(rows.ok()) << rows.status().to_string();
    if (!rows.ok()) return {};
    std::vector<std::vector<float>> out = *rows;
    for (int k = 0; k < 4; ++k) {
        const int32_t next = testing::argmax(out.back());
        auto step = run_step(model, *kv, {&seq}, {{next}}, false, &next_block);
        EXPECT_TRUE(step.ok()) << step.status().to_string();
        if (!step.ok()) return {};
        out.push_back(step->back());
    }
    return out;
}

void expect_identical(const std::string& dir) {
    LoadOptions f32;
    f32.dequantize_at_load = true;
    auto a = load_model(dir);
    auto b = load_model(dir, f32);
    ASSERT_TRUE(a.ok()) << dir << ": " << a.status().to_string();
    ASSERT_TRUE(b.ok()) << dir << ": " << b.status().to_string();
    EXPECT_LT((*a)->weight_bytes_per_step(), (*b)->weight_bytes_per_step() * 6 / 10) << dir << ": weights not kept 16-bit";
    const auto ra = run(**a), rb = run(**b);
    ASSERT_EQ(ra.size(), 16u) << dir;
    ASSERT_EQ(ra.size(), rb.size()) << dir;
    for (size_t t = 0; t < ra.size(); ++t) ASSERT_EQ(ra[t], rb[t]) << dir << " row " << t;
}

const std::string kShared = KITE_SHARED_DIR;

TEST(SixteenBitWeights, ReferenceCheckpointsBitIdenticalToF32Path) {
    // bf16 (tied embeddings: the lm_head is the bf16 table), f16, bf16 with attention biases.
    for (const char* name : {"reference/llama3-rope-tied", "reference/mistral", "reference/qwen2"})
        expect_identical(kShared + "/" + name);
}

// The families checkpoints stored in bf16 / f16, for every architecture this build loads.
TEST(SixteenBitWeights, FamilyCheckpointsBitIdenticalToF32Path) {
    int checked = 0;
    for (const char* name : {"bloom", "deepseek_v3", "falcon", "gemma2", "gemma3", "glm4", "gpt_neox", "mixtral", "phi",
                             "phi3", "qwen3_moe"}) {
        const std::string dir = kShared + "/families/" + name;
        LoadOptions f32;
        f32.dequantize_at_load = true;
        auto probe = load_model(dir, f32);  // the f32 path loads it: then the 16-bit path must agree
        if (!probe.ok()) {
            std::printf("families/%s: not loadable in this build (%s)\n", name, probe.status().message().c_str());
            continue;
        }
        expect_identical(dir);
        ++checked;
    }
    std::printf("families checked: %d\n", checked);
    if (checked == 0) GTEST_SKIP() << "no 16-bit families architecture is loadable in this build yet";
}

}  // namespace
}  // namespace kite
