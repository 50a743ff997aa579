// What every front end that runs a model loads first, from one opening of the model path: the
// model, its tokenizer (when there is one) and its generation defaults. `kite generate`, `kite
// bench` and `kite serve` all start here.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "engine/request_fields.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace kite {

struct ModelSession {
    std::shared_ptr<Model> model;
    std::shared_ptr<const Tokenizer> tokenizer;  // null when the checkpoint has none
    std::string tokenizer_error;                 // why it is null
    GenerationDefaults defaults;

    // What requests are checked against, for an engine whose context is `max_model_len`.
    ModelLimits limits(int max_model_len) const;
};

// `tokenizer_path` overrides where the tokenizer is read from (empty: the model's own; a failure
// there is then an error, while a checkpoint without a tokenizer just has none).
Result<ModelSession> open_model_session(const std::string& model_path, const std::string& tokenizer_path,
                                        const LoadOptions& options);

}  // namespace kite
