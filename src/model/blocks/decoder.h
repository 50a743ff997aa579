// DecoderModel: runs any DecoderSpec (blocks/decoder_spec.h) as a Model. Architectures do not
// subclass it; they describe themselves (model/arch/<family>.cpp) and the registry calls
// make_decoder with that description.
#pragma once

#include <memory>

#include "model/blocks/decoder_spec.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace kite {

Result<std::unique_ptr<Model>> make_decoder(DecoderSpec spec, const WeightSource& source, const LoadOptions& options);

}  // namespace kite
