// The CPU forward pass against transformers' numbers: per-position logits and greedy continuations
// of the tiny reference checkpoints (shared/reference) and of stories260K (shared/models).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "model/model.h"
#include "model_test_util.h"

namespace kite {
namespace {

using testing::argmax;
using testing::run_step;
using testing::TestSequence;

const std::string kShared = KITE_SHARED_DIR;

std::vector<int32_t> ids_of(const Tensor& t) {
    std::vector<int32_t> v;
    for (int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<int32_t>(t.data<int64_t>()[i]));
    return v;
}

class ReferenceModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceModel, LogitsAndGreedyMatchTransformers) {
    const std::string dir = kShared + "/reference/" + GetParam();
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
        ASSERT_TRUE(kv.ok());
        TestSequence seq;
        int next_block = 0;
        auto rows = run_step(**model, *kv, {&seq}, {ids}, /*all_rows=*/true, &next_block);
        ASSERT_TRUE(rows.ok()) << rows.status().message();
        double max_diff = 0;
        for (size_t t = 0; t < ids.size(); ++t)
            for (int64_t v = 0; v < V; ++v)
                max_diff = std::max<double>(max_diff, std::abs((*rows)[t][v] - logits_t->data<float>()[t * V + v]));
        std::printf("%s prompt %d: max |logit diff| = %.3g\n", GetParam().c_str(), p, max_diff);
        EXPECT_LT(max_diff, 1e-3) << GetParam() << " prompt " << p;
        EXPECT_LT(max_diff, 1e-4) << GetParam() << " prompt " << p << " (expected ~1e-5)";

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

INSTANTIATE_TEST_SUITE_P(Shared, ReferenceModel,
                         ::testing::Values("llama", "llama3-rope-tied", "llama-rope-linear", "llama-rope-yarn",
                                           "mistral", "qwen2", "qwen3"));

TEST(Stories260K, TwoHundredGreedyIdsMatchForEveryPrompt) {
    const std::string dir = kShared + "/models/stories260K";
    auto model = load_model(dir);
    ASSERT_TRUE(model.ok()) << model.status().message();
    std::ifstream in(dir + "/reference.json");
    const nlohmann::json ref = nlohmann::json::parse(in);
    auto logits_file = SafetensorsFile::open(dir + "/logits.safetensors");
    ASSERT_TRUE(logits_file.ok());
    int case_index = 0;
    for (const auto& c : ref["cases"]) {
        const std::vector<int32_t> prompt = c["prompt_ids"].get<std::vector<int32_t>>();
        const std::vector<int32_t> want = c["greedy_ids"].get<std::vector<int32_t>>();
        auto kv = KvCache::create((*model)->kv_shape(64, 16));
        ASSERT_TRUE(kv.ok());
        TestSequence seq;
        int next_block = 0;
        auto rows = run_step(**model, *kv, {&seq}, {prompt}, true, &next_block);
        ASSERT_TRUE(rows.ok()) << rows.status().message();
        auto ref_logits = (*logits_file)->get("case" + std::to_string(case_index) + ".logits");
        ASSERT_TRUE(ref_logits.ok());
        double max_diff = 0;
        for (size_t t = 0; t < prompt.size(); ++t)
            for (int v = 0; v < 512; ++v)
                max_diff = std::max<double>(max_diff, std::abs((*rows)[t][v] - ref_logits->data<float>()[t * 512 + v]));
        std::printf("stories260K case %d: max |logit diff| = %.3g\n", case_index, max_diff);
        EXPECT_LT(max_diff, 1e-4) << "case " << case_index;
        std::vector<int32_t> got;
        int32_t next = argmax(rows->back());
        for (size_t i = 0; i < want.size(); ++i) {
            got.push_back(next);
            auto step = run_step(**model, *kv, {&seq}, {{next}}, false, &next_block);
            ASSERT_TRUE(step.ok());
            next = argmax((*step)[0]);
        }
        EXPECT_EQ(got, want) << "case " << case_index;
        ++case_index;
    }
    EXPECT_EQ(case_index, 4);
}

}  // namespace
}  // namespace kite
