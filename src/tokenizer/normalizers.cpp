// Normalizers of tokenizer.json: NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace, Strip,
// StripAccents, BertNormalizer, ByteLevel, Sequence. Precompiled lives in precompiled.cpp.
#include <utility>

#include "tokenizer/components.h"
#include "tokenizer/precompiled.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace kite::tok {

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    if (from.empty()) return std::string(s);
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    while (true) {
        const size_t f = s.find(from, pos);
        if (f == std::string_view::npos) break;
        out.append(s.substr(pos, f - pos));
        out.append(to);
        pos = f + from.size();
    }
    out.append(s.substr(pos));
    return out;
}

Result<std::string> get_string(const json& j, const char* key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return invalid_argument(where + ": field '" + key + "' must be a string");
    return it->get<std::string>();
}
std::string get_string_or(const json& j, const char* key, const std::string& fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}
bool get_bool_or(const json& j, const char* key, bool fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

Result<Pattern> parse_pattern(const json& j, const std::string& where) {
    auto pit = j.find("pattern");
    if (pit == j.end() || !pit->is_object()) return invalid_argument(where + ": field 'pattern' must be an object");
    Pattern p;
    if (pit->contains("String")) {
        KITE_ASSIGN_OR_RETURN(p.literal, get_string(*pit, "String", where + " pattern"));
        return p;
    }
    KITE_ASSIGN_OR_RETURN(std::string re, get_string(*pit, "Regex", where + " pattern"));
    KITE_ASSIGN_OR_RETURN(p.regex, Regex::compile(re));
    return p;
}

std::string Pattern::replace_all(std::string_view s, std::string_view content) const {
    return regex ? regex->replace_all(s, content) : kite::tok::replace_all(s, literal, content);
}

namespace {

class FormNormalizer final : public Normalizer {
public:
    explicit FormNormalizer(NormForm f) : form_(f) {}
    void normalize(std::string& s) const override { s = normalize_form(s, form_); }
private:
    NormForm form_;
};

class LowercaseNormalizer final : public Normalizer {
public:
    void normalize(std::string& s) const override { s = to_lower(s); }
};

class PrependNormalizer final : public Normalizer {
public:
    explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
    void normalize(std::string& s) const override {
        if (!s.empty()) s.insert(0, prepend_);
    }
private:
    std::string prepend_;
};

class ReplaceNormalizer final : public Normalizer {
public:
    ReplaceNormalizer(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
    void normalize(std::string& s) const override { s = pattern_.replace_all(s, content_); }
private:
    Pattern pattern_;
    std::string content_;
};

class StripNormalizer final : public Normalizer {
public:
    StripNormalizer(bool l, bool r) : left_(l), right_(r) {}
    void normalize(std::string& s) const override {
        size_t a = 0, b = s.size();
        if (left_) {
            size_t i = 0;
            while (i < s.size()) {
                const size_t st = i;
                if (!is_whitespace(next_cp(s, i))) { a = st; break; }
                a = i;
            }
        }
        if (right_) {
            size_t i = a, last_end = a;
            while (i < b) {
                if (!is_whitespace(next_cp(s, i))) last_end = i;
            }
            b = last_end;
        }
        s = s.substr(a, b - a);
    }
private:
    bool left_, right_;
};

std::string filter_chars(std::string_view s, bool (*drop)(uint32_t)) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const size_t st = i;
        if (!drop(next_cp(s, i))) out.append(s.substr(st, i - st));
    }
    return out;
}

class StripAccentsNormalizer final : public Normalizer {
public:
    void normalize(std::string& s) const override { s = filter_chars(s, is_mark); }
};

class BertNormalizer final : public Normalizer {
public:
    BertNormalizer(bool clean, bool chinese, bool strip, bool lower)
        : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
    void normalize(std::string& s) const override {
        if (clean_ || chinese_) {
            std::string out;
            out.reserve(s.size() + 8);
            size_t i = 0;
            while (i < s.size()) {
                const size_t st = i;
                const uint32_t cp = next_cp(s, i);
                if (clean_) {
                    if (cp == 0 || cp == 0xFFFD || (cp != '\t' && cp != '\n' && cp != '\r' && is_other(cp))) continue;
                    if (is_whitespace(cp)) { out += ' '; continue; }
                }
                if (chinese_ && is_chinese_char(cp)) {
                    out += ' ';
                    out.append(s, st, i - st);
                    out += ' ';
                    continue;
                }
                out.append(s, st, i - st);
            }
            s = std::move(out);
        }
        if (strip_) s = filter_chars(normalize_form(s, NormForm::kNfd), is_nonspacing_mark);
        if (lower_) s = to_lower(s);
    }
private:
    bool clean_, chinese_, strip_, lower_;
};

class ByteLevelNormalizer final : public Normalizer {
public:
    void normalize(std::string& s) const override {
        std::string out;
        out.reserve(s.size() * 2);
        for (char c : s) out += byte_to_unicode(static_cast<unsigned char>(c));
        s = std::move(out);
    }
};

class SequenceNormalizer final : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> v) : seq_(std::move(v)) {}
    void normalize(std::string& s) const override {
        for (const auto& n : seq_) n->normalize(s);
    }
private:
    std::vector<std::unique_ptr<Normalizer>> seq_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> make_normalizer(const json& j) {
    if (!j.is_object()) return invalid_argument("normalizer must be a JSON object");
    KITE_ASSIGN_OR_RETURN(std::string type, get_string(j, "type", "normalizer"));
    const std::string where = "normalizer " + type;
    if (type == "NFC") return std::unique_ptr<Normalizer>(new FormNormalizer(NormForm::kNfc));
    if (type == "NFD") return std::unique_ptr<Normalizer>(new FormNormalizer(NormForm::kNfd));
    if (type == "NFKC") return std::unique_ptr<Normalizer>(new FormNormalizer(NormForm::kNfkc));
    if (type == "NFKD") return std::unique_ptr<Normalizer>(new FormNormalizer(NormForm::kNfkd));
    if (type == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
    if (type == "StripAccents") return std::unique_ptr<Normalizer>(new StripAccentsNormalizer());
    if (type == "ByteLevel") return std::unique_ptr<Normalizer>(new ByteLevelNormalizer());
    if (type == "Prepend") {
        KITE_ASSIGN_OR_RETURN(std::string p, get_string(j, "prepend", where));
        return std::unique_ptr<Normalizer>(new PrependNormalizer(std::move(p)));
    }
    if (type == "Strip") {
        return std::unique_ptr<Normalizer>(
            new StripNormalizer(get_bool_or(j, "strip_left", true), get_bool_or(j, "strip_right", true)));
    }
    if (type == "Replace") {
        KITE_ASSIGN_OR_RETURN(Pattern pattern, parse_pattern(j, where));
        KITE_ASSIGN_OR_RETURN(std::string content, get_string(j, "content", where));
        return std::unique_ptr<Normalizer>(new ReplaceNormalizer(std::move(pattern), std::move(content)));
    }
    if (type == "BertNormalizer") {
        const bool lower = get_bool_or(j, "lowercase", true);
        const bool strip = get_bool_or(j, "strip_accents", lower);  // null follows lowercase
        return std::unique_ptr<Normalizer>(new BertNormalizer(get_bool_or(j, "clean_text", true),
                                                              get_bool_or(j, "handle_chinese_chars", true),
                                                              strip, lower));
    }
    if (type == "Precompiled") return make_precompiled_normalizer(j);
    if (type == "Sequence") {
        NestingGuard guard;
        if (guard.too_deep()) return invalid_argument(where + ": Sequence nested more than 32 deep");
        auto it = j.find("normalizers");
        if (it == j.end() || !it->is_array()) return invalid_argument(where + ": field 'normalizers' must be an array");
        std::vector<std::unique_ptr<Normalizer>> seq;
        for (const json& sub : *it) {
            KITE_ASSIGN_OR_RETURN(auto n, make_normalizer(sub));
            seq.push_back(std::move(n));
        }
        return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(seq)));
    }
    return unimplemented("normalizer type '" + type + "' is not supported");
}

}  // namespace kite::tok
