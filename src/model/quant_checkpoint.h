// GPTQ and AWQ checkpoints loaded as they are stored: `quantization_config` in config.json says how
// `<layer>.qweight` / `qzeros` / `scales` (/ `g_idx`) are packed, and each packed linear is repacked
// at load into kite's integer weight-only layout (ops/weight.h), which the CPU kernel computes on.
// A layer the checkpoint keeps dense (`<layer>.weight`, e.g. modules_to_not_convert) loads as usual.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "model/weight_source.h"
#include "ops/weight.h"

namespace kite {

struct CheckpointQuant {
    enum class Method { kNone, kGptq, kAwq };
    Method method = Method::kNone;
    int bits = 0;
    int64_t group_size = -1;  // -1: one group over all inputs
    bool sym = true;          // GPTQ
    bool desc_act = false;    // GPTQ act-order (g_idx permutes inputs among groups)
    bool zeros_minus_one = true;  // GPTQ checkpoint_format "gptq" (v1) stores zero - 1; "gptq_v2" the zero
    bool zero_point = true;   // AWQ
    const char* name() const { return method == Method::kGptq ? "gptq" : method == Method::kAwq ? "awq" : "none"; }
};

// Reads config.json's quantization_config (absent: Method::kNone); unsupported methods, formats,
// bit widths and versions are errors naming what was found and what kite takes.
Result<CheckpointQuant> parse_checkpoint_quant(const nlohmann::json& config, const std::string& source);

// Whether the checkpoint stores `weight_name` ("<layer>.weight") packed as <layer>.qweight.
bool has_packed_linear(const WeightSource& source, const std::string& weight_name);

// Unpacks <layer>.qweight & co. for a linear of shape [rows, in] into kite's layout (or, for an
// act-order whose groups are not contiguous after sorting, the exactly dequantized f32 weight).
Result<Weight> load_packed_linear(const WeightSource& source, const CheckpointQuant& quant,
                                  const std::string& weight_name, int64_t rows, int64_t in);

}  // namespace kite
