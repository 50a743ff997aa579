// KV cache sizing (see kv_budget.h).
#include "engine/kv_budget.h"

#include <algorithm>
#include <fstream>
#include <string>

#include "core/device.h"

namespace kite {
namespace {

// MemAvailable from /proc/meminfo, in bytes; 0 if unknown.
int64_t host_available_bytes() {
    std::ifstream f("/proc/meminfo");
    std::string key, unit;
    int64_t kb = 0;
    while (f >> key >> kb >> unit) {
        if (key == "MemAvailable:") return kb * 1024;
    }
    return 0;
}

constexpr int64_t kDefaultCpuKvBudgetBytes = int64_t(512) << 20;

}  // namespace

Result<int64_t> available_kv_bytes(Device device, double fraction) {
    if (!(fraction > 0.0 && fraction <= 1.0)) return invalid_argument("KV cache memory fraction must be in (0, 1]");
    int64_t available = 0;
    if (device == Device::kCuda) {
        KITE_ASSIGN_OR_RETURN(available, cuda_free_memory_bytes());
    } else {
        available = host_available_bytes();
    }
    return static_cast<int64_t>(fraction * static_cast<double>(available));
}

Result<int> kv_blocks_from_config(const EngineConfig& c, int64_t bytes_per_block, int max_model_len, Device device) {
    if (bytes_per_block <= 0) return internal_error("KV block size in bytes is " + std::to_string(bytes_per_block));
    int64_t blocks = 0;
    std::string budget;
    const char* where = device == Device::kCuda ? "free GPU memory" : "available host memory";
    if (c.num_kv_blocks > 0) {
        blocks = c.num_kv_blocks;
    } else if (c.kv_cache_mem_mb > 0) {
        blocks = (c.kv_cache_mem_mb << 20) / bytes_per_block;
        budget = "--kv-cache-mem-mb " + std::to_string(c.kv_cache_mem_mb);
    } else if (c.kv_cache_mem_fraction > 0) {
        KITE_ASSIGN_OR_RETURN(int64_t bytes, available_kv_bytes(device, c.kv_cache_mem_fraction));
        blocks = bytes / bytes_per_block;
        budget = "a fraction " + std::to_string(c.kv_cache_mem_fraction) + " of " + where;
    } else {
        // Default: room for every sequence at full context, within the device's budget.
        const int64_t tokens = int64_t(c.max_num_seqs) * std::max(1, max_model_len);
        int64_t cap = kDefaultCpuKvBudgetBytes;
        budget = "the default budget";
        if (device == Device::kCuda) {
            KITE_ASSIGN_OR_RETURN(cap, available_kv_bytes(device, c.gpu_memory_utilization));
            budget = "--gpu-memory-utilization " + std::to_string(c.gpu_memory_utilization) + " of " + where;
        }
        blocks = std::min(cap / bytes_per_block, (tokens + c.block_size - 1) / c.block_size);
    }
    if (blocks < 1) {
        return invalid_argument(budget + " holds no KV block (" + std::to_string(bytes_per_block) +
                                " bytes per block of " + std::to_string(c.block_size) + " tokens)");
    }
    if (blocks > (int64_t(1) << 30)) return invalid_argument("KV cache of " + std::to_string(blocks) + " blocks is too large");
    return static_cast<int>(blocks);
}

}  // namespace kite
