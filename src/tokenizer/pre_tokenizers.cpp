// Pre-tokenizers of tokenizer.json: ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace,
// WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit, Sequence; and the split behaviors
// (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous) they share.
#include <algorithm>
#include <functional>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace kite::tok {

namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Result<Behavior> parse_behavior(const json& j, const std::string& where, Behavior fallback) {
    auto it = j.find("behavior");
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_string()) return invalid_argument(where + ": field 'behavior' must be a string");
    const std::string b = it->get<std::string>();
    if (b == "Removed") return Behavior::kRemoved;
    if (b == "Isolated") return Behavior::kIsolated;
    if (b == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
    if (b == "MergedWithNext") return Behavior::kMergedWithNext;
    if (b == "Contiguous") return Behavior::kContiguous;
    return invalid_argument(where + ": behavior '" + b +
                            "' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

struct Span {
    size_t a, b;
    bool match;
};

// Splits `p` given spans covering it in order, as NormalizedString::split does.
void apply_behavior(const Piece& p, std::vector<Span>& spans, Behavior beh, std::vector<Piece>& out) {
    std::vector<Span> res;
    res.reserve(spans.size());
    switch (beh) {
        case Behavior::kIsolated:
            res = spans;
            break;
        case Behavior::kRemoved:
            for (const Span& s : spans) if (!s.match) res.push_back(s);
            break;
        case Behavior::kMergedWithPrevious: {
            bool prev_match = false;
            for (const Span& s : spans) {
                if (s.match && !prev_match && !res.empty()) res.back().b = s.b;
                else res.push_back(s);
                prev_match = s.match;
            }
            break;
        }
        case Behavior::kMergedWithNext: {
            bool prev_match = false;
            for (size_t k = spans.size(); k-- > 0;) {
                const Span& s = spans[k];
                if (s.match && !prev_match && !res.empty()) res.back().a = s.a;
                else res.push_back(s);
                prev_match = s.match;
            }
            std::reverse(res.begin(), res.end());
            break;
        }
        case Behavior::kContiguous: {
            bool prev_match = false;
            for (const Span& s : spans) {
                if (s.match == prev_match && !res.empty()) res.back().b = s.b;
                else res.push_back(s);
                prev_match = s.match;
            }
            break;
        }
    }
    for (const Span& s : res) {
        if (s.b > s.a) out.push_back(Piece{p.text.substr(s.a, s.b - s.a), p.at_start && s.a == 0});
    }
}

// Matches given as [start, end) ranges -> covering spans.
void ranges_to_spans(size_t len, const std::vector<std::pair<size_t, size_t>>& m, bool invert,
                     std::vector<Span>& spans) {
    spans.clear();
    size_t prev = 0;
    for (auto [a, b] : m) {
        if (a > prev) spans.push_back({prev, a, invert});
        spans.push_back({a, b, !invert});
        prev = b;
    }
    if (prev < len) spans.push_back({prev, len, invert});
}

// Each character satisfying `pred` is one match.
void char_spans(const std::string& s, const std::function<bool(uint32_t)>& pred, std::vector<Span>& spans) {
    spans.clear();
    size_t i = 0, last = 0;
    while (i < s.size()) {
        const size_t st = i;
        if (pred(next_cp(s, i))) {
            if (last < st) spans.push_back({last, st, false});
            spans.push_back({st, i, true});
            last = i;
        }
    }
    if (last < s.size()) spans.push_back({last, s.size(), false});
}

void split_each(std::vector<Piece>& pieces, const std::function<void(const std::string&, std::vector<Span>&)>& find,
                Behavior beh) {
    std::vector<Piece> out;
    out.reserve(pieces.size() * 2);
    std::vector<Span> spans;
    for (const Piece& p : pieces) {
        find(p.text, spans);
        apply_behavior(p, spans, beh, out);
    }
    pieces = std::move(out);
}

class CharSplit final : public PreTokenizer {
public:
    CharSplit(std::function<bool(uint32_t)> pred, Behavior beh) : pred_(std::move(pred)), beh_(beh) {}
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        split_each(pieces, [&](const std::string& s, std::vector<Span>& sp) { char_spans(s, pred_, sp); }, beh_);
    }
private:
    std::function<bool(uint32_t)> pred_;
    Behavior beh_;
};

class RegexSplit final : public PreTokenizer {
public:
    RegexSplit(std::shared_ptr<const Regex> re, Behavior beh, bool invert)
        : re_(std::move(re)), beh_(beh), invert_(invert) {}
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        std::vector<std::pair<size_t, size_t>> m;
        split_each(pieces, [&](const std::string& s, std::vector<Span>& sp) {
            re_->find_all(s, m);
            ranges_to_spans(s.size(), m, invert_, sp);
        }, beh_);
    }
private:
    std::shared_ptr<const Regex> re_;
    Behavior beh_;
    bool invert_;
};

class LiteralSplit final : public PreTokenizer {
public:
    LiteralSplit(std::string lit, Behavior beh, bool invert) : lit_(std::move(lit)), beh_(beh), invert_(invert) {}
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        std::vector<std::pair<size_t, size_t>> m;
        split_each(pieces, [&](const std::string& s, std::vector<Span>& sp) {
            m.clear();
            if (!lit_.empty()) {
                for (size_t f = s.find(lit_); f != std::string::npos; f = s.find(lit_, f + lit_.size()))
                    m.emplace_back(f, f + lit_.size());
            }
            ranges_to_spans(s.size(), m, invert_, sp);
        }, beh_);
    }
private:
    std::string lit_;
    Behavior beh_;
    bool invert_;
};

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPre final : public PreTokenizer {
public:
    ByteLevelPre(bool prefix_space, std::shared_ptr<const Regex> re) : prefix_space_(prefix_space), re_(std::move(re)) {}
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        if (prefix_space_) {
            // NormalizedString::prepend does nothing on an empty string.
            for (Piece& p : pieces) if (!p.text.empty() && p.text[0] != ' ') p.text.insert(0, " ");
        }
        if (re_) {
            std::vector<std::pair<size_t, size_t>> m;
            split_each(pieces, [&](const std::string& s, std::vector<Span>& sp) {
                re_->find_all(s, m);
                ranges_to_spans(s.size(), m, false, sp);
            }, Behavior::kIsolated);
        }
        for (Piece& p : pieces) {
            std::string out;
            out.reserve(p.text.size() * 2);
            for (char c : p.text) out += byte_to_unicode(static_cast<unsigned char>(c));
            p.text = std::move(out);
        }
    }
private:
    bool prefix_space_;
    std::shared_ptr<const Regex> re_;
};

enum class Prepend { kAlways, kFirst, kNever };

class MetaspacePre final : public PreTokenizer {
public:
    MetaspacePre(std::string rep, Prepend scheme, bool split) : rep_(std::move(rep)), scheme_(scheme), split_(split) {
        size_t i = 0;
        rep_cp_ = rep_.empty() ? 0 : next_cp(rep_, i);
    }
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        for (Piece& p : pieces) {
            p.text = replace_all(p.text, " ", rep_);
            const bool starts = p.text.compare(0, rep_.size(), rep_) == 0;
            if (!starts && !p.text.empty() && (scheme_ == Prepend::kAlways || (scheme_ == Prepend::kFirst && p.at_start)))
                p.text.insert(0, rep_);
        }
        if (split_) {
            const uint32_t r = rep_cp_;
            split_each(pieces, [r](const std::string& s, std::vector<Span>& sp) {
                char_spans(s, [r](uint32_t c) { return c == r; }, sp);
            }, Behavior::kMergedWithNext);
        }
    }
private:
    std::string rep_;
    uint32_t rep_cp_;
    Prepend scheme_;
    bool split_;
};

class SequencePre final : public PreTokenizer {
public:
    explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> v) : seq_(std::move(v)) {}
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        for (const auto& p : seq_) p->pre_tokenize(pieces);
    }
private:
    std::vector<std::unique_ptr<PreTokenizer>> seq_;
};


}  // namespace

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const json& j) {
    using Ptr = std::unique_ptr<PreTokenizer>;
    if (!j.is_object()) return invalid_argument("pre_tokenizer must be a JSON object");
    KITE_ASSIGN_OR_RETURN(std::string type, get_string(j, "type", "pre_tokenizer"));
    const std::string where = "pre_tokenizer " + type;
    if (type == "ByteLevel") {
        std::shared_ptr<const Regex> re;
        if (get_bool_or(j, "use_regex", true)) {
            static const auto gpt2 = Regex::compile(kGpt2Pattern);
            if (!gpt2.ok()) return gpt2.status();
            re = *gpt2;
        }
        return Ptr(new ByteLevelPre(get_bool_or(j, "add_prefix_space", true), re));
    }
    if (type == "Split") {
        KITE_ASSIGN_OR_RETURN(Pattern pattern, parse_pattern(j, where));
        KITE_ASSIGN_OR_RETURN(Behavior beh, parse_behavior(j, where, Behavior::kRemoved));
        const bool invert = get_bool_or(j, "invert", false);
        if (!pattern.regex) return Ptr(new LiteralSplit(std::move(pattern.literal), beh, invert));
        return Ptr(new RegexSplit(std::move(pattern.regex), beh, invert));
    }
    if (type == "Metaspace") {
        const std::string rep = get_string_or(j, "replacement", "\xE2\x96\x81");
        if (rep.empty()) return invalid_argument(where + ": replacement must be one character");
        Prepend scheme = Prepend::kAlways;
        if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
            const std::string s = j["prepend_scheme"].get<std::string>();
            if (s == "always") scheme = Prepend::kAlways;
            else if (s == "first") scheme = Prepend::kFirst;
            else if (s == "never") scheme = Prepend::kNever;
            else return invalid_argument(where + ": prepend_scheme '" + s + "' is not always, first or never");
        } else if (j.contains("add_prefix_space")) {  // older layout
            scheme = get_bool_or(j, "add_prefix_space", true) ? Prepend::kAlways : Prepend::kNever;
        }
        return Ptr(new MetaspacePre(rep, scheme, get_bool_or(j, "split", true)));
    }
    if (type == "Digits") {
        const bool individual = get_bool_or(j, "individual_digits", false);
        return Ptr(new CharSplit(is_numeric, individual ? Behavior::kIsolated : Behavior::kContiguous));
    }
    if (type == "Punctuation") {
        KITE_ASSIGN_OR_RETURN(Behavior beh, parse_behavior(j, where, Behavior::kIsolated));
        return Ptr(new CharSplit(is_bert_punctuation, beh));
    }
    if (type == "WhitespaceSplit") return Ptr(new CharSplit(is_whitespace, Behavior::kRemoved));
    if (type == "Whitespace") {  // \w+|[^\w\s]+ with Oniguruma's Unicode \w
        static const auto re = Regex::compile(R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\s]+)");
        if (!re.ok()) return re.status();
        return Ptr(new RegexSplit(*re, Behavior::kRemoved, true));
    }
    if (type == "BertPreTokenizer") {
        std::vector<Ptr> seq;
        seq.push_back(Ptr(new CharSplit(is_whitespace, Behavior::kRemoved)));
        seq.push_back(Ptr(new CharSplit(is_bert_punctuation, Behavior::kIsolated)));
        return Ptr(new SequencePre(std::move(seq)));
    }
    if (type == "CharDelimiterSplit") {
        KITE_ASSIGN_OR_RETURN(std::string d, get_string(j, "delimiter", where));
        size_t i = 0;
        if (d.empty()) return invalid_argument(where + ": delimiter must be one character");
        const uint32_t cp = next_cp(d, i);
        return Ptr(new CharSplit([cp](uint32_t c) { return c == cp; }, Behavior::kRemoved));
    }
    if (type == "Sequence") {
        NestingGuard guard;
        if (guard.too_deep()) return invalid_argument(where + ": Sequence nested more than 32 deep");
        auto it = j.find("pretokenizers");
        if (it == j.end() || !it->is_array()) return invalid_argument(where + ": field 'pretokenizers' must be an array");
        std::vector<Ptr> seq;
        for (const json& sub : *it) {
            KITE_ASSIGN_OR_RETURN(auto p, make_pre_tokenizer(sub));
            seq.push_back(std::move(p));
        }
        return Ptr(new SequencePre(std::move(seq)));
    }
    return unimplemented("pre_tokenizer type '" + type + "' is not supported");
}

}  // namespace kite::tok
