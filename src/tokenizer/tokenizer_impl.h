// The Tokenizer behind tokenizer.h: the tokenizer.json pipeline (added tokens -> normalizer ->
// pre-tokenizer -> model -> post-processor; decoder on the way back) and what
// tokenizer_config.json adds. Built by tokenizer_load.cpp.
#pragma once

#include <unordered_map>

#include "tokenizer/added_vocab.h"
#include "tokenizer/components.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace kite::tok {

class TokenizerImpl final : public Tokenizer {
public:
    Result<std::vector<int32_t>> encode(std::string_view text, bool add_special_tokens) const override;
    Result<std::string> decode(std::span<const int32_t> ids, bool skip_special_tokens) const override;

    int64_t vocab_size() const override { return vocab_size_; }
    std::optional<int32_t> token_to_id(std::string_view token) const override;
    std::string id_to_token(int32_t id) const override;
    bool is_special(int32_t id) const override;

    const std::string& chat_template() const override { return chat_template_; }
    const std::string& bos_token() const override { return bos_token_; }
    const std::string& eos_token() const override { return eos_token_; }
    int32_t bos_token_id() const override { return bos_id_; }
    int32_t eos_token_id() const override { return eos_id_; }

    // Loading (tokenizer_load.cpp).
    Status load(const json& tokenizer_json);
    Status apply_config(const json& config);

private:
    Status encode_plain(std::string_view text, bool at_start, std::vector<int32_t>& ids) const;
    const std::string* token_text(int32_t id) const;

    std::unique_ptr<Normalizer> normalizer_;
    std::unique_ptr<PreTokenizer> pre_tokenizer_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<PostProcessor> post_processor_;
    std::unique_ptr<Decoder> decoder_;

    std::vector<AddedToken> added_;
    AddedMatcher raw_matcher_, normalized_matcher_;
    TokenTable added_by_content_;
    std::unordered_map<int32_t, std::string> added_by_id_;
    std::vector<bool> special_;  // by id: its text is a special added token's
    int64_t vocab_size_ = 0;

    std::string chat_template_, bos_token_, eos_token_;
    int32_t bos_id_ = -1, eos_id_ = -1;
};

}  // namespace kite::tok
