// Request validation (see request_validation.h).
#include "engine/request_validation.h"

#include <string>

namespace kite {

Status validate_request(GenerationRequest& r, const RequestLimits& lim) {
    const std::string who = "request '" + r.id + "': ";
    if (r.id.empty()) return invalid_argument("request id is empty");
    if (r.prompt_ids.empty()) return invalid_argument(who + "prompt is empty (expected at least one token)");
    for (size_t i = 0; i < r.prompt_ids.size(); ++i) {
        const int32_t t = r.prompt_ids[i];
        if (t < 0 || t >= lim.vocab_size) {
            return invalid_argument(who + "prompt token " + std::to_string(i) + " is " + std::to_string(t) +
                                    ", outside the vocabulary [0, " + std::to_string(lim.vocab_size) + ")");
        }
    }
    if (r.max_new_tokens < 1) return invalid_argument(who + "max_new_tokens must be >= 1, got " + std::to_string(r.max_new_tokens));
    if (r.min_new_tokens < 0 || r.min_new_tokens > r.max_new_tokens) {
        return invalid_argument(who + "min_new_tokens must be in [0, max_new_tokens = " + std::to_string(r.max_new_tokens) +
                                "], got " + std::to_string(r.min_new_tokens));
    }
    if (r.num_beams < 1) return invalid_argument(who + "num_beams must be >= 1, got " + std::to_string(r.num_beams));
    if (r.n < 1) return invalid_argument(who + "n must be >= 1, got " + std::to_string(r.n));
    if (r.num_return_sequences < 1) {
        return invalid_argument(who + "num_return_sequences must be >= 1, got " + std::to_string(r.num_return_sequences));
    }
    if (r.num_beams > 1) {
        if (r.n > 1) return invalid_argument(who + "n > 1 cannot be combined with num_beams > 1 (use num_return_sequences)");
        if (r.num_return_sequences > r.num_beams) {
            return invalid_argument(who + "num_return_sequences = " + std::to_string(r.num_return_sequences) +
                                    " exceeds num_beams = " + std::to_string(r.num_beams));
        }
        if (!r.stop.empty()) return unimplemented(who + "stop strings are not supported with beam search");
        if (2 * int64_t(r.num_beams) > lim.vocab_size) return invalid_argument(who + "num_beams is larger than half the vocabulary");
    } else if (r.num_return_sequences > 1) {
        if (r.n > 1 && r.n != r.num_return_sequences) {
            return invalid_argument(who + "n = " + std::to_string(r.n) + " and num_return_sequences = " +
                                    std::to_string(r.num_return_sequences) + " disagree");
        }
        r.n = r.num_return_sequences;
    }
    const int width = r.num_beams > 1 ? r.num_beams : r.n;
    if (width > lim.max_num_seqs) {
        return invalid_argument(who + std::to_string(width) + " parallel sequences exceed max_num_seqs = " +
                                std::to_string(lim.max_num_seqs));
    }
    for (const std::string& s : r.stop) {
        if (s.empty()) return invalid_argument(who + "stop strings must not be empty");
    }
    if (!r.stop.empty() && !lim.has_tokenizer) return invalid_argument(who + "stop strings need a tokenizer, and none is loaded");
    for (int32_t t : r.stop_token_ids) {
        if (t < 0 || t >= lim.vocab_size) return invalid_argument(who + "stop token id " + std::to_string(t) + " is outside the vocabulary");
    }
    if (r.length_penalty != r.length_penalty) return invalid_argument(who + "length_penalty is NaN");
    KITE_RETURN_IF_ERROR(r.sampling.validate(lim.vocab_size));
    const int prompt = static_cast<int>(r.prompt_ids.size());
    if (prompt >= lim.max_model_len) {
        return invalid_argument(who + "prompt has " + std::to_string(prompt) + " tokens, but the context is " +
                                std::to_string(lim.max_model_len) + " tokens (at least one must be left to generate)");
    }
    const int64_t blocks = (int64_t(prompt) + 1 + lim.block_size - 1) / lim.block_size;
    if (blocks > lim.num_kv_blocks) {
        return resource_exhausted(who + "prompt of " + std::to_string(prompt) + " tokens needs " + std::to_string(blocks) +
                                  " KV blocks of " + std::to_string(lim.block_size) + " tokens, but the whole KV cache has " +
                                  std::to_string(lim.num_kv_blocks));
    }
    return Status::ok();
}

}  // namespace kite
