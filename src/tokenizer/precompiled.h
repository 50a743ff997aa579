// SentencePiece's compiled normalization rules ("Precompiled" normalizer, e.g. T5): a darts-clone
// double-array trie over UTF-8 bytes whose values index a blob of NUL-terminated replacements.
#pragma once

#include <memory>

#include "tokenizer/components.h"

namespace kite::tok {

Result<std::unique_ptr<Normalizer>> make_precompiled_normalizer(const json& j);

}  // namespace kite::tok
