// Every model family on CUDA against its CPU forward, on the shared family checkpoints
// (shared/families) and the option cases (tests/data/families): a ragged prefill of two prompts,
// then batched decode steps, f32 logits compared at every step. Skips when no GPU answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "core/device.h"
#include "model/model.h"

namespace kite {
namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);  // the device machine runs a copy of the tree
    return v ? v : fallback;
}

struct Seq {
    std::vector<int32_t> tokens, table;
    int computed = 0;
};

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

class CudaFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaFamily, LogitsMatchTheCpuForward) {
    std::string why;
    if (!cuda_available(&why)) GTEST_SKIP() << "CUDA tests skipped: " << why;
    const std::string& p = GetParam();
    const std::string path = p.rfind("options/", 0) == 0
                                 ? env_or("KITE_SOURCE_DIR", KITE_SOURCE_DIR) + "/tests/data/families/" + p.substr(8)
                                 : env_or("KITE_SHARED_DIR", KITE_SHARED_DIR) + "/families/" + p;
    LoadOptions gpu_opts;
    gpu_opts.device = Device::kCuda;
    auto cpu_model = load_model(path);
    ASSERT_TRUE(cpu_model.ok()) << cpu_model.status().message();
    auto gpu_model = load_model(path, gpu_opts);
    ASSERT_TRUE(gpu_model.ok()) << gpu_model.status().message();
    const int block_size = 4, num_blocks = 24;
    auto cpu_kv = KvCache::create((*cpu_model)->kv_shape(num_blocks, block_size));
    auto gpu_kv = KvCache::create((*gpu_model)->kv_shape(num_blocks, block_size));
    ASSERT_TRUE(cpu_kv.ok() && gpu_kv.ok());
    const int vocab = static_cast<int>((*cpu_model)->config().vocab_size);
    // Prompts of 7 and 21 tokens (past the sliding windows of the shared checkpoints).
    std::vector<Seq> seqs(2);
    for (int i = 0; i < 7; ++i) seqs[0].tokens.push_back((i * 37 + 5) % vocab);
    for (int i = 0; i < 21; ++i) seqs[1].tokens.push_back((i * 91 + 11) % vocab);
    seqs[0].table = {9, 2, 14, 5};
    seqs[1].table = {0, 11, 3, 7, 12, 1, 20, 17};
    for (int step = 0; step < 4; ++step) {
        ForwardBatch b = make_batch(seqs, block_size);
        Tensor cpu_logits, gpu_logits;
        ASSERT_TRUE((*cpu_model)->forward(b, *cpu_kv, cpu_logits).is_ok());
        const Status st = (*gpu_model)->forward(b, *gpu_kv, gpu_logits);
        ASSERT_TRUE(st.is_ok()) << st.message();
        float max_diff = 0.0f, max_abs = 0.0f;
        for (int64_t i = 0; i < cpu_logits.numel(); ++i) {
            max_diff = std::max(max_diff, std::fabs(cpu_logits.data<float>()[i] - gpu_logits.data<float>()[i]));
            max_abs = std::max(max_abs, std::fabs(cpu_logits.data<float>()[i]));
        }
        std::printf("%s step %d: max |logit diff| %.3g (max |logit| %.3g)\n", p.c_str(), step, max_diff, max_abs);
        EXPECT_LE(max_diff, 1e-4f * std::max(1.0f, max_abs)) << p << " step " << step;
        for (size_t s = 0; s < seqs.size(); ++s) {
            const float* row = cpu_logits.data<float>() + s * vocab;
            seqs[s].tokens.push_back(static_cast<int32_t>(std::max_element(row, row + vocab) - row));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Families, CudaFamily,
                         ::testing::Values("phi3", "gemma2", "gemma3", "glm4", "starcoder2", "phi", "gpt_neox", "falcon",
                                           "gpt_bigcode", "bloom", "options/phi3_longrope", "options/falcon_new_arch",
                                           "options/falcon_alibi", "options/bloom_residual_post_ln",
                                           "options/gemma3_scaled_rope"));

}  // namespace
}  // namespace kite
