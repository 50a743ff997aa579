// The engine's flags, shared by the commands that build an Engine from the command line
// (`generate --requests`, `bench`): batch limits, KV cache size and layout, scheduling.
#pragma once

#include <string>

#include "cli/flags.h"
#include "core/status.h"
#include "engine/engine.h"

namespace kite::cli {

void declare_engine_flags(Flags& f);
// Reads the flags declared above; `base` supplies defaults for those not given.
Result<EngineConfig> engine_config_from_flags(const Flags& f, EngineConfig base = {});

Result<SchedulingPolicy> parse_policy(const std::string& s);         // fcfs | priority | static
Result<PreemptionMode> parse_preemption_mode(const std::string& s);  // recompute | swap

}  // namespace kite::cli
