// The flags of every command that loads a model and builds an Engine (`generate`, `generate
// --requests`, `bench`, `serve`), declared and read in one place so that each command's --help
// shows the same "Model and engine" section with the same names, bounds and environment variables.
#pragma once

#include <string>

#include "cli/flags.h"
#include "core/status.h"
#include "engine/engine.h"
#include "model/model.h"

namespace kite::cli {

// --device, --keep-quantized, --dummy-weights, --threads: where and how the model is loaded and
// run (reading them sets the CPU thread pool's size).
void declare_load_flags(Flags& f);
Result<LoadOptions> load_options_from_flags(const Flags& f);

// The load flags above, then batch limits, KV cache size and layout, scheduling.
void declare_engine_flags(Flags& f);
// Reads the flags declared above; `base` supplies defaults for those not given.
Result<EngineConfig> engine_config_from_flags(const Flags& f, EngineConfig base = {});

// "cpu" or "cuda" (--device); cuda only when built with KITE_CUDA and a GPU answers.
Result<Device> parse_device(const std::string& name);
Result<SchedulingPolicy> parse_policy(const std::string& s);         // fcfs | priority | static
Result<PreemptionMode> parse_preemption_mode(const std::string& s);  // recompute | swap

}  // namespace kite::cli
