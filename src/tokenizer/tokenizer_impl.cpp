// Encoding and decoding through the tokenizer.json pipeline.
#include "tokenizer/tokenizer_impl.h"

#include "tokenizer/unicode.h"

namespace kite::tok {

Status TokenizerImpl::encode_plain(std::string_view text, bool at_start, std::vector<int32_t>& ids) const {
    std::string norm(text);
    if (normalizer_) {
        normalizer_->normalize(norm);
        // Replacement strings come from the file; keep the invariant that the regexes see UTF-8.
        if (find_invalid_utf8(norm) != std::string::npos)
            return invalid_argument("normalizer produced invalid UTF-8 (corrupt tokenizer.json replacement data)");
    }
    std::vector<Segment> segs;
    if (normalized_matcher_.empty()) segs.push_back({0, norm.size(), -1});
    else normalized_matcher_.split(norm, added_, segs);
    std::vector<Piece> pieces;
    for (const Segment& sg : segs) {
        if (sg.id >= 0) { ids.push_back(sg.id); continue; }
        pieces.clear();
        pieces.push_back(Piece{norm.substr(sg.a, sg.b - sg.a), at_start && sg.a == 0});
        if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
        for (const Piece& p : pieces) KITE_RETURN_IF_ERROR(model_->tokenize(p.text, ids));
    }
    return Status::ok();
}

Result<std::vector<int32_t>> TokenizerImpl::encode(std::string_view text, bool add_special_tokens) const {
    const size_t bad = find_invalid_utf8(text);
    if (bad != std::string_view::npos)
        return invalid_argument("input text is not valid UTF-8 (bad byte at offset " + std::to_string(bad) + ")");
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    std::vector<Segment> segs;
    if (raw_matcher_.empty()) segs.push_back({0, text.size(), -1});
    else raw_matcher_.split(text, added_, segs);
    for (const Segment& sg : segs) {
        if (sg.id >= 0) { ids.push_back(sg.id); continue; }
        KITE_RETURN_IF_ERROR(encode_plain(text.substr(sg.a, sg.b - sg.a), sg.a == 0, ids));
    }
    if (add_special_tokens && post_processor_) post_processor_->process(ids);
    return ids;
}

const std::string* TokenizerImpl::token_text(int32_t id) const {
    auto it = added_by_id_.find(id);
    if (it != added_by_id_.end()) return &it->second;
    return model_->id_to_token(id);
}

Result<std::string> TokenizerImpl::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        const std::string* t = token_text(id);
        if (!t) return invalid_argument("token id " + std::to_string(id) + " is out of range (vocabulary size " +
                                        std::to_string(vocab_size_) + ")");
        if (skip_special_tokens && is_special(id)) continue;
        tokens.push_back(*t);
    }
    if (!decoder_) {
        std::string out;
        for (size_t k = 0; k < tokens.size(); ++k) {
            if (k) out += ' ';
            out += tokens[k];
        }
        return out;
    }
    decoder_->decode_chain(tokens);
    std::string out;
    for (const std::string& t : tokens) out += t;
    return out;
}

std::optional<int32_t> TokenizerImpl::token_to_id(std::string_view token) const {
    if (auto id = added_by_content_.find(token)) return id;
    return model_->token_to_id(token);
}

std::string TokenizerImpl::id_to_token(int32_t id) const {
    const std::string* t = token_text(id);
    return t ? *t : std::string();
}

bool TokenizerImpl::is_special(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < special_.size() && special_[id];
}

}  // namespace kite::tok
