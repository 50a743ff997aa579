// Streaming detokenization: decode a short window of ids with and without the newest ones and emit
// the difference once it is final (longer, and not ending in U+FFFD, i.e. no partial character).
// The window restarts after each emission, so each step costs a few tokens, not the whole text.
#include "tokenizer/tokenizer.h"

namespace kite {

namespace {
constexpr size_t kPromptContext = 5;  // prompt tokens decoded as context for the first token

bool ends_with_replacement(const std::string& s) {
    return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

// "<0xAB>": a byte-fallback token. ByteFallback decodes a run of them all or nothing (one U+FFFD
// per byte when the run is not UTF-8), so a run's text is final only once a non-byte token ends it.
bool is_byte_token(const std::string& t) {
    return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>';
}
}  // namespace

IncrementalDecoder::IncrementalDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens,
                                       std::vector<int32_t> prefix_ids)
    : tok_(std::move(tokenizer)), skip_special_(skip_special_tokens), ids_(std::move(prefix_ids)) {
    read_offset_ = ids_.size();
    prefix_offset_ = ids_.size() > kPromptContext ? ids_.size() - kPromptContext : 0;
}

std::string IncrementalDecoder::step(int32_t id) {
    ids_.push_back(id);
    if (is_byte_token(tok_->id_to_token(id))) return {};
    const std::span<const int32_t> all(ids_);
    auto prefix = tok_->decode(all.subspan(prefix_offset_, read_offset_ - prefix_offset_), skip_special_);
    auto full = tok_->decode(all.subspan(prefix_offset_), skip_special_);
    if (!prefix.ok() || !full.ok()) {  // an id out of range: drop it, emit nothing
        ids_.pop_back();
        return {};
    }
    if (full->size() <= prefix->size() || ends_with_replacement(*full) || full->compare(0, prefix->size(), *prefix) != 0)
        return {};
    std::string out = full->substr(prefix->size());
    prefix_offset_ = read_offset_;
    read_offset_ = ids_.size();
    return out;
}

std::string IncrementalDecoder::flush() {
    if (read_offset_ >= ids_.size()) return {};
    const std::span<const int32_t> all(ids_);
    auto prefix = tok_->decode(all.subspan(prefix_offset_, read_offset_ - prefix_offset_), skip_special_);
    auto full = tok_->decode(all.subspan(prefix_offset_), skip_special_);
    if (!prefix.ok() || !full.ok()) return {};
    std::string out;
    if (full->compare(0, prefix->size(), *prefix) == 0) out = full->substr(prefix->size());
    prefix_offset_ = read_offset_;
    read_offset_ = ids_.size();
    return out;
}

}  // namespace kite
