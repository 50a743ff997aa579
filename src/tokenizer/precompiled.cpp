// The Precompiled normalizer: base64 charsmap -> double-array trie + replacement blob, applied per
// grapheme cluster (whole cluster first when short, else per character), as SentencePiece does.
#include "tokenizer/precompiled.h"

#include <utf8proc.h>

#include "tokenizer/unicode.h"

namespace kite::tok {

namespace {

Result<std::string> base64_decode(std::string_view in) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    out.reserve(in.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        const int v = val(c);
        if (v < 0) return invalid_argument("normalizer Precompiled: precompiled_charsmap is not valid base64");
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

class PrecompiledNormalizer final : public Normalizer {
public:
    PrecompiledNormalizer(std::vector<uint32_t> units, std::string blob)
        : units_(std::move(units)), blob_(std::move(blob)) {}

    void normalize(std::string& s) const override {
        if (units_.empty()) return;
        std::string out;
        out.reserve(s.size());
        size_t i = 0;
        while (i < s.size()) {
            // One extended grapheme cluster [i, end).
            size_t end = i;
            utf8proc_int32_t state = 0;
            uint32_t prev = next_cp(s, end);
            while (end < s.size()) {
                size_t j = end;
                const uint32_t cp = next_cp(s, j);
                if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                                     static_cast<utf8proc_int32_t>(cp), &state)) break;
                prev = cp;
                end = j;
            }
            const std::string_view g(s.data() + i, end - i);
            std::string_view rep;
            if (g.size() < 6 && transform(g, rep)) {
                out.append(rep);
            } else {
                size_t k = 0;
                while (k < g.size()) {
                    const size_t st = k;
                    next_cp(g, k);
                    const std::string_view ch = g.substr(st, k - st);
                    if (transform(ch, rep)) out.append(rep);
                    else out.append(ch);
                }
            }
            i = end;
        }
        s = std::move(out);
    }

private:
    // First (shortest) prefix of `key` that the trie knows; its replacement goes to `rep`.
    bool transform(std::string_view key, std::string_view& rep) const {
        size_t pos = 0;
        uint32_t unit = units_[0];
        pos ^= offset(unit);
        for (char ch : key) {
            const unsigned char c = static_cast<unsigned char>(ch);
            if (c == 0) break;
            pos ^= c;
            if (pos >= units_.size()) return false;
            unit = units_[pos];
            if (label(unit) != c) return false;
            pos ^= offset(unit);
            if (pos >= units_.size()) return false;
            if ((unit >> 8) & 1) {
                const size_t v = units_[pos] & 0x7FFFFFFFu;
                if (v >= blob_.size()) return false;
                const size_t e = blob_.find('\0', v);
                rep = std::string_view(blob_).substr(v, (e == std::string::npos ? blob_.size() : e) - v);
                return true;
            }
        }
        return false;
    }
    static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
    static size_t offset(uint32_t u) { return static_cast<size_t>((u >> 10) << ((u & (1u << 9)) >> 6)); }

    std::vector<uint32_t> units_;
    std::string blob_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> make_precompiled_normalizer(const json& j) {
    auto it = j.find("precompiled_charsmap");
    if (it == j.end() || it->is_null()) return std::unique_ptr<Normalizer>(new PrecompiledNormalizer({}, {}));
    if (!it->is_string()) return invalid_argument("normalizer Precompiled: precompiled_charsmap must be a string");
    KITE_ASSIGN_OR_RETURN(std::string raw, base64_decode(it->get<std::string>()));
    if (raw.empty()) return std::unique_ptr<Normalizer>(new PrecompiledNormalizer({}, {}));
    if (raw.size() < 4) return invalid_argument("normalizer Precompiled: charsmap shorter than its 4-byte header");
    const uint32_t trie_bytes = static_cast<uint32_t>(static_cast<unsigned char>(raw[0])) |
                                static_cast<uint32_t>(static_cast<unsigned char>(raw[1])) << 8 |
                                static_cast<uint32_t>(static_cast<unsigned char>(raw[2])) << 16 |
                                static_cast<uint32_t>(static_cast<unsigned char>(raw[3])) << 24;
    if (trie_bytes % 4 != 0 || trie_bytes == 0 || static_cast<size_t>(trie_bytes) > raw.size() - 4) {
        return invalid_argument("normalizer Precompiled: charsmap trie size " + std::to_string(trie_bytes) +
                                " does not fit its " + std::to_string(raw.size()) + " bytes");
    }
    std::vector<uint32_t> units(trie_bytes / 4);
    for (size_t k = 0; k < units.size(); ++k) {
        const unsigned char* p = reinterpret_cast<const unsigned char*>(raw.data()) + 4 + 4 * k;
        units[k] = p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24;
    }
    return std::unique_ptr<Normalizer>(new PrecompiledNormalizer(std::move(units), raw.substr(4 + trie_bytes)));
}

}  // namespace kite::tok
