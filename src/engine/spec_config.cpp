// See spec_config.h.
#include "engine/spec_config.h"

namespace kite {

Status validate_speculative_config(const EngineConfig& c) {
    constexpr int kMaxSpeculativeTokens = 64;
    if (c.num_speculative_tokens < 0 || c.num_speculative_tokens > kMaxSpeculativeTokens)
        return invalid_argument("--num-speculative-tokens must be in 0.." + std::to_string(kMaxSpeculativeTokens) +
                                ", got " + std::to_string(c.num_speculative_tokens));
    if (c.speculative_ngram < 0 || c.speculative_ngram > 1024)
        return invalid_argument("--speculative-ngram must be in 1..1024, got " + std::to_string(c.speculative_ngram));
    const bool ngram = c.speculative_ngram > 0, model = !c.speculative_model.empty();
    if (ngram && model) return invalid_argument("give at most one of --speculative-model and --speculative-ngram");
    if (ngram && c.num_speculative_tokens == 0)
        return invalid_argument("--speculative-ngram needs --num-speculative-tokens K (K >= 1 draft tokens per step)");
    if (model && c.num_speculative_tokens == 0)
        return invalid_argument("--speculative-model needs --num-speculative-tokens K (K >= 1 draft tokens per step)");
    if (!ngram && !model && c.num_speculative_tokens > 0)
        return invalid_argument("--num-speculative-tokens needs a draft source: --speculative-ngram N or --speculative-model PATH");
    return Status::ok();
}

}  // namespace kite
