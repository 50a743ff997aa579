// Checking the speculative-decoding part of an EngineConfig (one-line errors naming the flag).
#pragma once

#include "core/status.h"
#include "engine/engine.h"

namespace kite {

Status validate_speculative_config(const EngineConfig& config);

}  // namespace kite
