// KV sizing reads the memory of the model's device: MemAvailable for a CPU model, free GPU memory
// for a CUDA one (never host memory for a GPU model). Expected values come from /proc/meminfo read
// here and from the config's own numbers.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "core/device.h"
#include "engine/kv_budget.h"

namespace kite {
namespace {

int64_t meminfo_available() {
    std::ifstream f("/proc/meminfo");
    std::string key, unit;
    int64_t kb = 0;
    while (f >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return 0;
}

TEST(KvBudget, ExplicitSizesWin) {
    EngineConfig c;
    c.num_kv_blocks = 7;
    EXPECT_EQ(*kv_blocks_from_config(c, 1024, 512, Device::kCpu), 7);
    c.num_kv_blocks = 0;
    c.kv_cache_mem_mb = 3;
    EXPECT_EQ(*kv_blocks_from_config(c, 1 << 20, 512, Device::kCpu), 3);
}

TEST(KvBudget, DefaultIsRoomForEverySequenceWithinTheCpuCap) {
    EngineConfig c;
    c.max_num_seqs = 4;
    c.block_size = 16;
    EXPECT_EQ(*kv_blocks_from_config(c, 1024, 100, Device::kCpu), (4 * 100 + 15) / 16);
    EXPECT_EQ(*kv_blocks_from_config(c, int64_t(256) << 20, 100, Device::kCpu), 2);  // 512 MiB / 256 MiB
}

TEST(KvBudget, FractionOfHostMemoryForACpuModel) {
    const int64_t avail = meminfo_available();
    if (avail == 0) GTEST_SKIP() << "no /proc/meminfo";
    EngineConfig c;
    c.kv_cache_mem_fraction = 0.01;
    const int64_t bytes_per_block = 1 << 20;
    auto blocks = kv_blocks_from_config(c, bytes_per_block, 512, Device::kCpu);
    ASSERT_TRUE(blocks.ok()) << blocks.status().message();
    const double expected = 0.01 * double(avail) / double(bytes_per_block);
    EXPECT_NEAR(*blocks, expected, expected * 0.2 + 2);  // other processes move MemAvailable a little
}

TEST(KvBudget, ACudaModelIsSizedFromTheGpu) {
    EngineConfig c;
    c.kv_cache_mem_fraction = 0.5;
    auto blocks = kv_blocks_from_config(c, 1 << 20, 512, Device::kCuda);
    if (cuda_available()) {
        ASSERT_TRUE(blocks.ok()) << blocks.status().message();
        const double expected = double(*available_kv_bytes(Device::kCuda, 0.5)) / double(1 << 20);
        EXPECT_NEAR(*blocks, expected, expected * 0.05 + 2);
    } else {
        // Without a GPU there is no GPU memory to size from: an error, not host memory.
        EXPECT_FALSE(blocks.ok());
    }
    EXPECT_FALSE(available_kv_bytes(Device::kCpu, 1.5).ok());
}

}  // namespace
}  // namespace kite
