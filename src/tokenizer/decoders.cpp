// Decoders (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece, BPEDecoder, CTC,
// Sequence) and post-processors (TemplateProcessing, ByteLevel, RobertaProcessing,
// BertProcessing, Sequence) of tokenizer.json.
#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace kite::tok {

std::string wordpiece_cleanup(std::string s) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : kRules) s = replace_all(s, from, to);
    return s;
}

namespace {

using Ptr = std::unique_ptr<Decoder>;

class ByteLevelDecoder final : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string bytes;
        for (const std::string& t : tokens) {
            const size_t mark = bytes.size();
            size_t i = 0;
            bool ok = true;
            while (i < t.size()) {
                const int b = unicode_to_byte(next_cp(t, i));
                if (b < 0) { ok = false; break; }
                bytes.push_back(static_cast<char>(b));
            }
            if (!ok) { bytes.resize(mark); bytes += t; }  // not a byte-level token (an added token): raw
        }
        tokens.assign(1, utf8_lossy(bytes));
    }
};

class MetaspaceDecoder final : public Decoder {
public:
    MetaspaceDecoder(std::string rep, bool strip_first) : rep_(std::move(rep)), strip_first_(strip_first) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i)
            tokens[i] = replace_all(tokens[i], rep_, i == 0 && strip_first_ ? "" : " ");
    }
private:
    std::string rep_;
    bool strip_first_;
};

class ReplaceDecoder final : public Decoder {
public:
    ReplaceDecoder(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) t = pattern_.replace_all(t, content_);
    }
private:
    Pattern pattern_;
    std::string content_;
};

int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class ByteFallbackDecoder final : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        out.reserve(tokens.size());
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (find_invalid_utf8(pending) == std::string::npos) out.push_back(pending);
            else for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
            pending.clear();
        };
        for (std::string& t : tokens) {
            int byte = -1;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                // u8::from_str_radix(.., 16): two hex digits, or '+' and one
                const int h = hex_val(t[3]), l = hex_val(t[4]);
                if (h >= 0 && l >= 0) byte = h * 16 + l;
                else if (t[3] == '+' && l >= 0) byte = l;
            }
            if (byte >= 0) { pending.push_back(static_cast<char>(byte)); continue; }
            flush();
            out.push_back(std::move(t));
        }
        flush();
        tokens = std::move(out);
    }
};

class FuseDecoder final : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens.assign(1, std::move(all));
    }
};

class StripDecoder final : public Decoder {
public:
    StripDecoder(uint32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) {
            std::vector<std::pair<size_t, uint32_t>> chars;  // byte offset, code point
            size_t i = 0;
            while (i < t.size()) { const size_t st = i; chars.emplace_back(st, next_cp(t, i)); }
            size_t a = 0, b = chars.size();
            for (size_t k = 0; k < start_ && k < chars.size() && chars[k].second == content_; ++k) a = k + 1;
            for (size_t k = 0; k < stop_ && k < chars.size(); ++k) {
                const size_t idx = chars.size() - k - 1;
                if (chars[idx].second != content_) break;
                b = idx;
            }
            if (b <= a) { t.clear(); continue; }
            const size_t from = chars[a].first, to = b < chars.size() ? chars[b].first : t.size();
            t = t.substr(from, to - from);
        }
    }
private:
    uint32_t content_;
    size_t start_, stop_;
};

class WordPieceDecoder final : public Decoder {
public:
    WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            if (i != 0) {
                if (t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
                else t = " " + t;
            }
            if (cleanup_) t = wordpiece_cleanup(std::move(t));
        }
    }
private:
    std::string prefix_;
    bool cleanup_;
};

class BpeDecoder final : public Decoder {
public:
    explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i)
            tokens[i] = replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }
private:
    std::string suffix_;
};

class CtcDecoder final : public Decoder {
public:
    CtcDecoder(std::string pad, std::string delim, bool cleanup)
        : pad_(std::move(pad)), delim_(std::move(delim)), cleanup_(cleanup) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0 && tokens[i] == tokens[i - 1]) continue;
            std::string r = replace_all(tokens[i], pad_, "");
            if (cleanup_) r = replace_all(wordpiece_cleanup(std::move(r)), delim_, " ");
            if (!r.empty()) out.push_back(std::move(r));
        }
        tokens = std::move(out);
    }
private:
    std::string pad_, delim_;
    bool cleanup_;
};

class SequenceDecoder final : public Decoder {
public:
    explicit SequenceDecoder(std::vector<Ptr> v) : seq_(std::move(v)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (const auto& d : seq_) d->decode_chain(tokens);
    }
private:
    std::vector<Ptr> seq_;
};

// ---- post-processors ----

class TemplateProcessor final : public PostProcessor {
public:
    // Each item: a list of ids to insert, or empty with `is_seq` meaning "the sequence".
    struct Item {
        bool is_seq;
        std::vector<int32_t> ids;
    };
    explicit TemplateProcessor(std::vector<Item> items) : items_(std::move(items)) {}
    void process(std::vector<int32_t>& ids) const override {
        std::vector<int32_t> out;
        out.reserve(ids.size() + 4);
        for (const Item& it : items_) {
            if (it.is_seq) out.insert(out.end(), ids.begin(), ids.end());
            else out.insert(out.end(), it.ids.begin(), it.ids.end());
        }
        ids = std::move(out);
    }
private:
    std::vector<Item> items_;
};

class NoopProcessor final : public PostProcessor {
public:
    void process(std::vector<int32_t>&) const override {}
};

class SequenceProcessor final : public PostProcessor {
public:
    explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> v) : seq_(std::move(v)) {}
    void process(std::vector<int32_t>& ids) const override {
        for (const auto& p : seq_) p->process(ids);
    }
private:
    std::vector<std::unique_ptr<PostProcessor>> seq_;
};

Result<int32_t> token_pair_id(const json& j, const char* key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[1].is_number_integer())
        return invalid_argument(where + ": field '" + key + "' must be [token, id]");
    return (*it)[1].get<int32_t>();
}

Result<std::unique_ptr<PostProcessor>> make_template(const json& j) {
    const std::string where = "post_processor TemplateProcessing";
    auto sit = j.find("single");
    if (sit == j.end()) return invalid_argument(where + ": field 'single' is missing");
    const json* specials = j.contains("special_tokens") ? &j["special_tokens"] : nullptr;
    std::vector<TemplateProcessor::Item> items;
    auto add_special = [&](const std::string& name) -> Status {
        if (!specials || !specials->contains(name))
            return invalid_argument(where + ": special token '" + name + "' is not in special_tokens");
        const json& st = (*specials)[name];
        auto ids = st.find("ids");
        if (ids == st.end() || !ids->is_array()) return invalid_argument(where + ": special token '" + name + "' has no ids");
        TemplateProcessor::Item item{false, {}};
        for (const json& id : *ids) {
            if (!id.is_number_integer()) return invalid_argument(where + ": special token '" + name + "' ids must be integers");
            item.ids.push_back(id.get<int32_t>());
        }
        items.push_back(std::move(item));
        return Status::ok();
    };
    if (sit->is_string()) {  // "[CLS] $A [SEP]" form
        std::string s = sit->get<std::string>();
        size_t i = 0;
        while (i < s.size()) {
            if (s[i] == ' ') { ++i; continue; }
            size_t e = s.find(' ', i);
            if (e == std::string::npos) e = s.size();
            std::string piece = s.substr(i, e - i);
            const size_t colon = piece.rfind(':');
            if (colon != std::string::npos && colon > 0) piece = piece.substr(0, colon);
            if (piece == "$A" || piece == "$" || piece == "$0") items.push_back({true, {}});
            else if (piece[0] == '$') { /* sequence B: single-sequence encoding never has it */ }
            else KITE_RETURN_IF_ERROR(add_special(piece));
            i = e;
        }
    } else if (sit->is_array()) {
        for (const json& p : *sit) {
            if (p.contains("Sequence")) {
                if (get_string_or(p["Sequence"], "id", "A") == "A") items.push_back({true, {}});
            } else if (p.contains("SpecialToken")) {
                KITE_ASSIGN_OR_RETURN(std::string id, get_string(p["SpecialToken"], "id", where));
                KITE_RETURN_IF_ERROR(add_special(id));
            } else {
                return invalid_argument(where + ": template piece must be Sequence or SpecialToken");
            }
        }
    } else {
        return invalid_argument(where + ": field 'single' must be a string or an array");
    }
    return std::unique_ptr<PostProcessor>(new TemplateProcessor(std::move(items)));
}

}  // namespace

std::unique_ptr<PostProcessor> make_bos_eos_processor(std::optional<int32_t> bos, std::optional<int32_t> eos) {
    std::vector<TemplateProcessor::Item> items;
    if (bos) items.push_back({false, {*bos}});
    items.push_back({true, {}});
    if (eos) items.push_back({false, {*eos}});
    return std::unique_ptr<PostProcessor>(new TemplateProcessor(std::move(items)));
}

Result<std::unique_ptr<PostProcessor>> make_post_processor(const json& j) {
    using P = std::unique_ptr<PostProcessor>;
    if (!j.is_object()) return invalid_argument("post_processor must be a JSON object");
    KITE_ASSIGN_OR_RETURN(std::string type, get_string(j, "type", "post_processor"));
    const std::string where = "post_processor " + type;
    if (type == "TemplateProcessing") return make_template(j);
    if (type == "ByteLevel") return P(new NoopProcessor());
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        KITE_ASSIGN_OR_RETURN(int32_t cls, token_pair_id(j, "cls", where));
        KITE_ASSIGN_OR_RETURN(int32_t sep, token_pair_id(j, "sep", where));
        return make_bos_eos_processor(cls, sep);
    }
    if (type == "Sequence") {
        NestingGuard guard;
        if (guard.too_deep()) return invalid_argument(where + ": Sequence nested more than 32 deep");
        auto it = j.find("processors");
        if (it == j.end() || !it->is_array()) return invalid_argument(where + ": field 'processors' must be an array");
        std::vector<P> seq;
        for (const json& sub : *it) {
            KITE_ASSIGN_OR_RETURN(auto p, make_post_processor(sub));
            seq.push_back(std::move(p));
        }
        return P(new SequenceProcessor(std::move(seq)));
    }
    return unimplemented("post_processor type '" + type + "' is not supported");
}

Result<std::unique_ptr<Decoder>> make_decoder(const json& j) {
    if (!j.is_object()) return invalid_argument("decoder must be a JSON object");
    KITE_ASSIGN_OR_RETURN(std::string type, get_string(j, "type", "decoder"));
    const std::string where = "decoder " + type;
    if (type == "ByteLevel") return Ptr(new ByteLevelDecoder());
    if (type == "ByteFallback") return Ptr(new ByteFallbackDecoder());
    if (type == "Fuse") return Ptr(new FuseDecoder());
    if (type == "Metaspace") {
        const std::string rep = get_string_or(j, "replacement", "\xE2\x96\x81");
        bool strip_first = true;
        if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) strip_first = j["prepend_scheme"] != "never";
        else if (j.contains("add_prefix_space")) strip_first = get_bool_or(j, "add_prefix_space", true);
        return Ptr(new MetaspaceDecoder(rep, strip_first));
    }
    if (type == "Replace") {
        KITE_ASSIGN_OR_RETURN(Pattern pattern, parse_pattern(j, where));
        KITE_ASSIGN_OR_RETURN(std::string content, get_string(j, "content", where));
        return Ptr(new ReplaceDecoder(std::move(pattern), std::move(content)));
    }
    if (type == "Strip") {
        KITE_ASSIGN_OR_RETURN(std::string c, get_string(j, "content", where));
        if (c.empty()) return invalid_argument(where + ": content must be one character");
        size_t i = 0;
        const uint32_t cp = next_cp(c, i);
        auto num = [&](const char* k) -> size_t {
            auto it = j.find(k);
            return it != j.end() && it->is_number_unsigned() ? it->get<size_t>() : 0;
        };
        return Ptr(new StripDecoder(cp, num("start"), num("stop")));
    }
    if (type == "WordPiece") return Ptr(new WordPieceDecoder(get_string_or(j, "prefix", "##"), get_bool_or(j, "cleanup", true)));
    if (type == "BPEDecoder") return Ptr(new BpeDecoder(get_string_or(j, "suffix", "</w>")));
    if (type == "CTC") {
        return Ptr(new CtcDecoder(get_string_or(j, "pad_token", "<pad>"), get_string_or(j, "word_delimiter_token", "|"),
                                  get_bool_or(j, "cleanup", true)));
    }
    if (type == "Sequence") {
        NestingGuard guard;
        if (guard.too_deep()) return invalid_argument(where + ": Sequence nested more than 32 deep");
        auto it = j.find("decoders");
        if (it == j.end() || !it->is_array()) return invalid_argument(where + ": field 'decoders' must be an array");
        std::vector<Ptr> seq;
        for (const json& sub : *it) {
            KITE_ASSIGN_OR_RETURN(auto d, make_decoder(sub));
            seq.push_back(std::move(d));
        }
        return Ptr(new SequenceDecoder(std::move(seq)));
    }
    return unimplemented("decoder type '" + type + "' is not supported");
}

}  // namespace kite::tok
