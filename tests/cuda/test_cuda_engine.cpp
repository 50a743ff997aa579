// The engine on a CUDA model: the same greedy requests through an Engine over the CPU model and
// over the CUDA model of the same dummy weights must give the same tokens. The engine needs no
// change: the model's kv_shape() puts the pools on its device. A KV pool too small for all four
// requests at once (swap preemption mode) and a shared prompt prefix (prefix caching) make the
// scheduler work; whether a swap actually happened is not asserted. Skips when no GPU answers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "../engine/engine_test_util.h"
#include "core/device.h"

namespace kite {
namespace {

std::string tiny_config() {
    const char* env = std::getenv("KITE_SOURCE_DIR");  // the device machine runs a copy of the tree
    return std::string(env ? env : KITE_SOURCE_DIR) + "/bench/configs/llama-tiny-gqa.json";
}

std::map<std::string, std::vector<testing::SeqResult>> run_engine(Device device) {
    LoadOptions opts;
    opts.dummy_weights = true;
    opts.dummy_seed = 11;
    opts.device = device;
    auto model = load_model(tiny_config(), opts);
    EXPECT_TRUE(model.ok()) << model.status().message();
    if (!model.ok()) return {};
    EngineConfig config;
    config.block_size = 4;
    config.num_kv_blocks = 24;  // 96 slots for 4 requests of up to 40 tokens: some must wait or swap
    config.max_num_seqs = 4;
    config.preemption_mode = PreemptionMode::kSwap;
    auto engine = Engine::create(std::shared_ptr<Model>(std::move(*model)), nullptr, config);
    EXPECT_TRUE(engine.ok()) << engine.status().message();
    if (!engine.ok()) return {};
    testing::Collector c;
    std::vector<int32_t> shared;
    for (int i = 0; i < 12; ++i) shared.push_back((i * 53 + 7) % 1000);
    for (int r = 0; r < 4; ++r) {
        std::vector<int32_t> prompt = shared;
        for (int i = 0; i < 3 + 5 * r; ++i) prompt.push_back((i * 31 + r * 101 + 3) % 1000);
        GenerationRequest req = testing::greedy_request("r" + std::to_string(r), prompt, 16);
        req.ignore_eos = true;
        req.stream_text = false;
        EXPECT_TRUE((*engine)->add_request(req, c.callback()).is_ok());
    }
    EXPECT_TRUE(c.wait(4)) << "engine did not finish";
    (*engine)->shutdown(true);
    return c.results();
}

TEST(CudaEngine, GreedyTokensMatchTheCpuEngine) {
    std::string why;
    if (!cuda_available(&why)) GTEST_SKIP() << "CUDA tests skipped: " << why;
    const auto cpu = run_engine(Device::kCpu);
    const auto gpu = run_engine(Device::kCuda);
    ASSERT_EQ(cpu.size(), 4u);
    ASSERT_EQ(gpu.size(), 4u);
    for (const auto& [id, seqs] : cpu) {
        ASSERT_EQ(gpu.at(id).size(), 1u) << id;
        EXPECT_TRUE(gpu.at(id)[0].error.is_ok()) << id << ": " << gpu.at(id)[0].error.message();
        EXPECT_EQ(seqs[0].ids.size(), 16u) << id;
        EXPECT_EQ(gpu.at(id)[0].ids, seqs[0].ids) << id;
    }
}

}  // namespace
}  // namespace kite
