// How many KV blocks an engine gets, from its config and the memory of the model's device:
// --num-kv-blocks, else --kv-cache-mem-mb, else --kv-cache-mem-fraction of the device's available
// memory (free GPU memory for a CUDA model, MemAvailable for a CPU one), else a default: room for
// max_num_seqs full contexts, at most 512 MiB on CPU and at most --gpu-memory-utilization of free
// GPU memory on CUDA.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/engine.h"

namespace kite {

// Bytes the KV cache may take on `device` at most for `fraction` of its available memory.
Result<int64_t> available_kv_bytes(Device device, double fraction);

Result<int> kv_blocks_from_config(const EngineConfig& config, int64_t bytes_per_block, int max_model_len,
                                  Device device);

}  // namespace kite
