// WordPiece and WordLevel models, and the model factory (which also infers the type of old
// tokenizer.json files whose model has no "type").
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_model.h"

namespace kite::tok {

Result<std::unique_ptr<Model>> make_bpe_model(const json& j);
Result<std::unique_ptr<Model>> make_unigram_model(const json& j);

Status VocabModel::load_vocab(const json& j, const std::string& where) {
    auto vit = j.find("vocab");
    if (vit == j.end() || !vit->is_object()) return invalid_argument(where + ": field 'vocab' must be an object");
    int64_t max_id = -1;
    vocab_.reserve(vit->size());
    for (auto it = vit->begin(); it != vit->end(); ++it) {
        const json& v = it.value();
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= kMaxVocabId)
            return invalid_argument(where + ": vocab entry '" + it.key() + "' must have an integer id in [0, 2^24)");
        vocab_.set(it.key(), v.get<int32_t>());
        max_id = std::max<int64_t>(max_id, v.get<int64_t>());
    }
    vocab_r_.assign(static_cast<size_t>(max_id + 1), nullptr);
    vocab_.for_each([&](const std::string& t, int32_t id) { vocab_r_[id] = &t; });
    return Status::ok();
}

std::string byte_fallback_token(unsigned char b) {
    static const char* hex = "0123456789ABCDEF";
    std::string s = "<0x00>";
    s[3] = hex[b >> 4];
    s[4] = hex[b & 15];
    return s;
}

namespace {

class WordPieceModel final : public VocabModel {
public:
    Status load(const json& j) {
        KITE_RETURN_IF_ERROR(load_vocab(j, "model WordPiece"));
        prefix_ = get_string_or(j, "continuing_subword_prefix", "##");
        const std::string unk = get_string_or(j, "unk_token", "[UNK]");
        auto id = vocab_.find(unk);
        if (!id) return invalid_argument("model WordPiece: unk_token '" + unk + "' is not in the vocabulary");
        unk_id_ = *id;
        auto mit = j.find("max_input_chars_per_word");
        if (mit != j.end() && mit->is_number_unsigned()) max_chars_ = mit->get<size_t>();
        vocab_.for_each([&](const std::string& t, int32_t) { max_token_bytes_ = std::max(max_token_bytes_, t.size()); });
        return Status::ok();
    }
    Status tokenize(std::string_view w, std::vector<int32_t>& out) const override {
        size_t nchars = 0;
        for (char c : w) nchars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        if (nchars > max_chars_) { out.push_back(unk_id_); return Status::ok(); }
        const size_t mark = out.size();
        size_t start = 0;
        std::string buf;
        while (start < w.size()) {
            // No vocabulary entry is longer than max_token_bytes_: longer candidates cannot match,
            // which keeps a long word (and a large max_input_chars_per_word) linear.
            size_t end = std::min(w.size(), start + max_token_bytes_);
            while (end > start && end < w.size() && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;
            bool found = false;
            while (start < end) {
                std::string_view sub = w.substr(start, end - start);
                if (start > 0) { buf = prefix_; buf.append(sub); sub = buf; }
                if (auto id = vocab_.find(sub)) { out.push_back(*id); found = true; break; }
                do { --end; } while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80);
            }
            if (!found) { out.resize(mark); out.push_back(unk_id_); return Status::ok(); }
            start = end;
        }
        return Status::ok();
    }
private:
    std::string prefix_;
    int32_t unk_id_ = 0;
    size_t max_chars_ = 100;
    size_t max_token_bytes_ = 0;
};

class WordLevelModel final : public VocabModel {
public:
    Status load(const json& j) {
        KITE_RETURN_IF_ERROR(load_vocab(j, "model WordLevel"));
        const std::string unk = get_string_or(j, "unk_token", "<unk>");
        unk_id_ = vocab_.find(unk);
        return Status::ok();
    }
    Status tokenize(std::string_view w, std::vector<int32_t>& out) const override {
        if (auto id = vocab_.find(w)) { out.push_back(*id); return Status::ok(); }
        if (!unk_id_) return invalid_argument("model WordLevel: word is not in the vocabulary and there is no unk_token");
        out.push_back(*unk_id_);
        return Status::ok();
    }
private:
    std::optional<int32_t> unk_id_;
};

}  // namespace

Result<std::unique_ptr<Model>> make_model(const json& j) {
    if (!j.is_object()) return invalid_argument("tokenizer.json: 'model' must be an object");
    std::string type = get_string_or(j, "type", "");
    if (type.empty()) {  // old layout: infer from the fields, in the order HF tries them
        auto v = j.find("vocab");
        if (v != j.end() && v->is_array()) type = "Unigram";
        else if (j.contains("merges")) type = "BPE";
        else if (j.contains("max_input_chars_per_word") || j.contains("continuing_subword_prefix")) type = "WordPiece";
        else type = "WordLevel";
    }
    if (type == "BPE") return make_bpe_model(j);
    if (type == "Unigram") return make_unigram_model(j);
    if (type == "WordPiece") {
        auto m = std::make_unique<WordPieceModel>();
        KITE_RETURN_IF_ERROR(m->load(j));
        return std::unique_ptr<Model>(std::move(m));
    }
    if (type == "WordLevel") {
        auto m = std::make_unique<WordLevelModel>();
        KITE_RETURN_IF_ERROR(m->load(j));
        return std::unique_ptr<Model>(std::move(m));
    }
    return unimplemented("model type '" + type + "' is not supported (expected BPE, Unigram, WordPiece or WordLevel)");
}

}  // namespace kite::tok
