// The Llama-family forward on CUDA against the CPU forward of the same random weights (dummy
// weights of tiny configs in bench/configs: Llama GQA with tied embeddings; Qwen3 with q/k head
// norms and head_dim * heads != hidden; Qwen2 with q/k/v biases and MQA; Mistral with a sliding
// window of 6 and head_dim 80): a ragged prefill of two prompts, then batched decode steps, logits
// compared at every step. Skips when no GPU answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "core/device.h"
#include "model/model.h"

namespace kite {
namespace {

std::string source_dir() {
    const char* env = std::getenv("KITE_SOURCE_DIR");  // the device machine runs a copy of the tree
    return env ? env : KITE_SOURCE_DIR;
}

struct Seq {
    std::vector<int32_t> tokens;
    std::vector<int32_t> table;
    int computed = 0;
};

// One step: every sequence feeds its tokens [computed, size) and asks for its last row's logits.
ForwardBatch make_batch(std::vector<Seq>& seqs, int block_size) {
    ForwardBatch b;
    b.query_start.push_back(0);
    for (Seq& s : seqs) {
        for (int p = s.computed; p < static_cast<int>(s.tokens.size()); ++p) {
            b.token_ids.push_back(s.tokens[p]);
            b.positions.push_back(p);
            b.slot_mapping.push_back(int64_t(s.table[p / block_size]) * block_size + p % block_size);
        }
        b.query_start.push_back(static_cast<int32_t>(b.token_ids.size()));
        b.context_lens.push_back(static_cast<int32_t>(s.tokens.size()));
        b.block_tables.push_back(s.table);
        b.logits_indices.push_back(static_cast<int32_t>(b.token_ids.size()) - 1);
        s.computed = static_cast<int>(s.tokens.size());
    }
    return b;
}

class CudaForward : public ::testing::TestWithParam<const char*> {};

TEST_P(CudaForward, LogitsMatchTheCpuForward) {
    std::string why;
    if (!cuda_available(&why)) GTEST_SKIP() << "CUDA tests skipped: " << why;
    const std::string config = source_dir() + "/bench/configs/" + GetParam();
    LoadOptions cpu_opts;
    cpu_opts.dummy_weights = true;
    cpu_opts.dummy_seed = 7;
    LoadOptions gpu_opts = cpu_opts;
    gpu_opts.device = Device::kCuda;
    auto cpu_model = load_model(config, cpu_opts);
    ASSERT_TRUE(cpu_model.ok()) << cpu_model.status().message();
    auto gpu_model = load_model(config, gpu_opts);
    ASSERT_TRUE(gpu_model.ok()) << gpu_model.status().message();

    const int block_size = 4, num_blocks = 16;
    ASSERT_EQ((*gpu_model)->device(), Device::kCuda);
    const KvCacheShape gpu_shape = (*gpu_model)->kv_shape(num_blocks, block_size);
    ASSERT_EQ(gpu_shape.device, Device::kCuda);  // what the engine gets from the model
    auto cpu_kv = KvCache::create((*cpu_model)->kv_shape(num_blocks, block_size));
    auto gpu_kv = KvCache::create(gpu_shape);
    ASSERT_TRUE(cpu_kv.ok() && gpu_kv.ok());

    // Prompts of 7 and 13 tokens: neither a multiple of the block size; tables out of order.
    std::vector<Seq> seqs(2);
    for (int i = 0; i < 7; ++i) seqs[0].tokens.push_back((i * 37 + 5) % 1000);
    for (int i = 0; i < 13; ++i) seqs[1].tokens.push_back((i * 91 + 11) % 1000);
    seqs[0].table = {9, 2, 14, 5};
    seqs[1].table = {0, 11, 3, 7, 12, 1};
    const int vocab = static_cast<int>((*cpu_model)->config().vocab_size);
    for (int step = 0; step < 4; ++step) {
        ForwardBatch b = make_batch(seqs, block_size);
        Tensor cpu_logits, gpu_logits;
        ASSERT_TRUE((*cpu_model)->forward(b, *cpu_kv, cpu_logits).is_ok());
        const Status st = (*gpu_model)->forward(b, *gpu_kv, gpu_logits);
        ASSERT_TRUE(st.is_ok()) << st.message();
        ASSERT_EQ(gpu_logits.device(), Device::kCpu);
        ASSERT_EQ(gpu_logits.numel(), cpu_logits.numel());
        float max_diff = 0.0f, max_abs = 0.0f;
        for (int64_t i = 0; i < cpu_logits.numel(); ++i) {
            max_diff = std::max(max_diff, std::fabs(cpu_logits.data<float>()[i] - gpu_logits.data<float>()[i]));
            max_abs = std::max(max_abs, std::fabs(cpu_logits.data<float>()[i]));
        }
        std::printf("step %d: max |logit diff| %.3g (max |logit| %.3g)\n", step, max_diff, max_abs);
        EXPECT_LE(max_diff, 1e-4f * std::max(1.0f, max_abs)) << "step " << step;
        // Next step: each sequence decodes the CPU's greedy token.
        for (size_t s = 0; s < seqs.size(); ++s) {
            const float* row = cpu_logits.data<float>() + s * vocab;
            seqs[s].tokens.push_back(static_cast<int32_t>(std::max_element(row, row + vocab) - row));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(TinyConfigs, CudaForward,
                         ::testing::Values("llama-tiny-gqa.json", "qwen3-tiny.json", "qwen2-tiny.json",
                                           "mistral-tiny-swa.json"));

TEST(CudaForwardErrors, CudaModelWithoutGpuOrCudaBuildFailsWithAMessage) {
    std::string why;
    if (cuda_available(&why)) GTEST_SKIP() << "a GPU is present; this checks the no-GPU message";
    LoadOptions opts;
    opts.dummy_weights = true;
    opts.device = Device::kCuda;
    auto m = load_model(source_dir() + "/bench/configs/llama-tiny-gqa.json", opts);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("cuda"), std::string::npos) << m.status().message();
}

}  // namespace
}  // namespace kite
