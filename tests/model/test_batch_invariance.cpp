// The forward pass gives a sequence bit-identical logits whatever else is in the batch and however
// its prompt is chunked: the property the engine's batch invariance rests on.
#include <gtest/gtest.h>

#include <random>

#include "model/model.h"
#include "model_test_util.h"

namespace kite {
namespace {

using testing::run_step;
using testing::TestSequence;

TEST(BatchInvariance, RaggedBatchesAndChunksGiveIdenticalLogits) {
    for (const char* name : {"models/stories260K", "reference/qwen3", "reference/mistral"}) {
        auto model = load_model(std::string(KITE_SHARED_DIR) + "/" + name);
        ASSERT_TRUE(model.ok()) << model.status().message();
        std::mt19937 gen(7);
        std::uniform_int_distribution<int> tok(3, 500);
        std::vector<std::vector<int32_t>> prompts;
        for (int len : {1, 9, 23, 40}) {
            std::vector<int32_t> p;
            for (int i = 0; i < len; ++i) p.push_back(tok(gen));
            prompts.push_back(p);
        }
        // Alone, whole prompt at once.
        std::vector<std::vector<float>> alone;
        for (const auto& p : prompts) {
            auto kv = KvCache::create((*model)->kv_shape(16, 4));
            TestSequence s;
            int next = 0;
            auto rows = run_step(**model, *kv, {&s}, {p}, false, &next);
            ASSERT_TRUE(rows.ok()) << rows.status().message();
            alone.push_back((*rows)[0]);
        }
        // Together, in chunks of 5 tokens per step, with shuffled block ids shared in one pool.
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
        for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(last[i], alone[i]) << name << " prompt " << i;
    }
}

}  // namespace
}  // namespace kite
