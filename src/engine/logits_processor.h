// A per-sequence hook into sampling: it removes tokens from the distribution before a token is
// drawn (structured output: a grammar allows only some tokens next) and is told the token that
// was drawn. The engine knows nothing about grammars; the server builds processors (src/structured)
// and hands the engine a factory with the request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace kite {

class LogitsProcessor {
public:
    virtual ~LogitsProcessor() = default;
    // Sets the logits of disallowed tokens to -infinity. `logits` covers the model's vocabulary.
    virtual void apply(std::span<float> logits) = 0;
    // The token sampled from the processed logits.
    virtual void accept(int32_t token) = 0;
};

// One processor per output sequence (n samples each get their own), created on first sampling.
using LogitsProcessorFactory = std::function<std::unique_ptr<LogitsProcessor>()>;

}  // namespace kite
