// Each token's bytes, recovered through the tokenizer's own decoder so that every pipeline works:
// byte-fallback tokens (<0xAB>) are one byte; byte-level BPE tokens that hold part of a UTF-8
// character are mapped back through GPT-2's byte-to-unicode table; other tokens are decoded after
// an anchor token so that decoders that drop a leading space at the start of a text keep it.
#include <array>

#include "structured/grammar.h"

namespace kite::structured {

namespace {

bool is_byte_token(const std::string& t) {
    return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
           std::isxdigit(static_cast<unsigned char>(t[4]));
}

bool has_replacement(const std::string& s) { return s.find("\xEF\xBF\xBD") != std::string::npos; }

// GPT-2's bytes_to_unicode, inverted: code point -> byte (-1 when not in the table).
int byte_of_codepoint(uint32_t cp) {
    static const std::array<int, 512> table = [] {
        std::array<int, 512> t{};
        t.fill(-1);
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            const int cp = printable ? b : 256 + extra++;
            t[static_cast<size_t>(cp)] = b;
        }
        return t;
    }();
    return cp < table.size() ? table[cp] : -1;
}

// The token string read as GPT-2 byte-level symbols; false when some character is not one.
bool byte_level_bytes(const std::string& token, std::string& out) {
    out.clear();
    for (size_t i = 0; i < token.size();) {
        const unsigned char c = static_cast<unsigned char>(token[i]);
        uint32_t cp;
        size_t len;
        if (c < 0x80) { cp = c; len = 1; }
        else if ((c & 0xE0) == 0xC0 && i + 1 < token.size()) { cp = ((c & 0x1Fu) << 6) | (token[i + 1] & 0x3F); len = 2; }
        else return false;
        const int b = byte_of_codepoint(cp);
        if (b < 0) return false;
        out += static_cast<char>(b);
        i += len;
    }
    return !out.empty();
}

}  // namespace

std::vector<std::string> vocab_bytes(const Tokenizer& tok) {
    const int64_t n = tok.vocab_size();
    int32_t anchor = -1;
    for (const char* a : {"a", "\xE2\x96\x81" "a", "the", "A"}) {
        auto id = tok.token_to_id(a);
        if (id && !tok.is_special(*id)) {
            anchor = *id;
            break;
        }
    }
    std::string anchor_text;
    if (anchor >= 0) {
        const int32_t one[1] = {anchor};
        auto d = tok.decode(one, false);
        if (d.ok() && !d->empty()) anchor_text = *d;
        else anchor = -1;
    }
    std::vector<std::string> out(static_cast<size_t>(n));
    std::string bl;
    for (int32_t id = 0; id < n; ++id) {
        std::string& b = out[static_cast<size_t>(id)];
        const std::string t = tok.id_to_token(id);
        if (tok.is_special(id) || t.empty()) {
            b = "\xFF" + (t.empty() ? "<[" + std::to_string(id) + "]>" : t);
            continue;
        }
        if (is_byte_token(t)) {
            b = std::string(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
            continue;
        }
        if (anchor >= 0) {
            const int32_t two[2] = {anchor, id};
            auto d = tok.decode(two, false);
            if (d.ok() && d->compare(0, anchor_text.size(), anchor_text) == 0 && !has_replacement(*d)) {
                b = d->substr(anchor_text.size());
                if (!b.empty()) continue;
            }
        }
        if (byte_level_bytes(t, bl)) {
            b = bl;
            continue;
        }
        const int32_t one[1] = {id};
        auto d = tok.decode(one, false);
        b = d.ok() && !d->empty() ? *d : "\xFF" + t;
    }
    return out;
}

}  // namespace kite::structured
