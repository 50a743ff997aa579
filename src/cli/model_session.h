// What every model-driving command loads first: the model, its tokenizer (when there is one) and
// its generation defaults, from a model folder or a .gguf file.
#pragma once

#include <memory>
#include <string>

#include "cli/flags.h"
#include "core/status.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace kite::cli {

struct ModelSession {
    std::shared_ptr<Model> model;
    std::shared_ptr<const Tokenizer> tokenizer;  // null when the checkpoint has none
    std::string tokenizer_error;                 // why it is null
    GenerationDefaults defaults;
};

// "cpu" or "cuda" (--device); cuda only when built with KITE_CUDA and a GPU answers.
Result<Device> parse_device(const std::string& name);

// --device, --dequantize-at-load, --cpu-int8-activations (and the old --keep-quantized), shared by
// every command that loads a model.
void declare_load_flags(Flags& f);
Result<LoadOptions> load_options_from_flags(const Flags& f);

// `tokenizer_path` overrides where the tokenizer is read from (empty: beside the model).
Result<ModelSession> open_model_session(const std::string& model_path, const std::string& tokenizer_path,
                                        const LoadOptions& options);

}  // namespace kite::cli
