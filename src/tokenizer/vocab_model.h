// Base of the models whose vocabulary is a {token: id} object (BPE, WordPiece, WordLevel): the
// lookups both ways and the loading of that object, written once.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/components.h"
#include "tokenizer/vocab.h"

namespace kite::tok {

class VocabModel : public Model {
public:
    std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
    const std::string* id_to_token(int32_t id) const override {
        if (id < 0 || static_cast<size_t>(id) >= vocab_r_.size()) return nullptr;
        return vocab_r_[id];
    }
    int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }

protected:
    // Reads field "vocab" of the model object; `where` names the model in errors.
    Status load_vocab(const json& j, const std::string& where);

    TokenTable vocab_;
    std::vector<const std::string*> vocab_r_;  // id -> key in vocab_ (keys never move); null for gaps
};

}  // namespace kite::tok
