// Checks a GenerationRequest before it is queued: one clear line for the first thing wrong,
// including requests that could never run (longer than the context or than the whole KV cache).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "engine/request.h"

namespace kite {

struct RequestLimits {
    int64_t vocab_size = 0;
    int max_model_len = 0;
    int num_kv_blocks = 0;
    int block_size = 16;
    int max_num_seqs = 1;
    bool has_tokenizer = false;
};

// Also normalizes: num_return_sequences > 1 without beams means n samples (HF's meaning).
Status validate_request(GenerationRequest& r, const RequestLimits& limits);

}  // namespace kite
