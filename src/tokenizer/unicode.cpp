// UTF-8 validation/repair and Unicode properties through utf8proc.
#include "tokenizer/unicode.h"

#include <array>
#include <cstdlib>

#include <utf8proc.h>

namespace kite::tok {

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// Length of the valid prefix of the sequence at s[i]: returns the full length when the sequence
// is complete and valid, otherwise (as a negative number) how many bytes form the maximal
// invalid subpart (at least 1). Follows the Unicode "maximal subpart" rule Rust uses.
static int check_seq(std::string_view s, size_t i) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return 1;
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b == 0xE0) { need = 2; lo = 0xA0; }
    else if (b >= 0xE1 && b <= 0xEC) need = 2;
    else if (b == 0xED) { need = 2; hi = 0x9F; }
    else if (b >= 0xEE && b <= 0xEF) need = 2;
    else if (b == 0xF0) { need = 3; lo = 0x90; }
    else if (b >= 0xF1 && b <= 0xF3) need = 3;
    else if (b == 0xF4) { need = 3; hi = 0x8F; }
    else return -1;
    for (int k = 1; k <= need; ++k) {
        if (i + k >= s.size()) return -k;
        const unsigned char c = static_cast<unsigned char>(s[i + k]);
        const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (c < l || c > h) return -k;
    }
    return need + 1;
}

size_t find_invalid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) { ++i; continue; }
        const int n = check_seq(s, i);
        if (n < 0) return i;
        i += static_cast<size_t>(n);
    }
    return std::string_view::npos;
}

std::string utf8_lossy(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    size_t i = 0;
    while (i < bytes.size()) {
        const int n = check_seq(bytes, i);
        if (n > 0) {
            out.append(bytes.data() + i, static_cast<size_t>(n));
            i += static_cast<size_t>(n);
        } else {
            out += "\xEF\xBF\xBD";
            i += static_cast<size_t>(-n);
        }
    }
    return out;
}

bool is_whitespace(uint32_t cp) {
    switch (cp) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
        case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

static utf8proc_category_t cat(uint32_t cp) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

bool is_alphanumeric(uint32_t cp) {
    const auto c = cat(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}
bool is_numeric(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    const auto c = cat(cp);
    return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}
bool is_punctuation(uint32_t cp) {
    const auto c = cat(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}
bool is_bert_punctuation(uint32_t cp) {
    const bool ascii = (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
                       (cp >= 123 && cp <= 126);
    return ascii || is_punctuation(cp);
}
bool is_other(uint32_t cp) {
    // Control, format, private use (and surrogates). Unassigned code points (Cn) are left out:
    // HF's BertNormalizer keeps them (they become [UNK]), as a scan of every code point shows.
    const auto c = cat(cp);
    return c >= UTF8PROC_CATEGORY_CC && c <= UTF8PROC_CATEGORY_CO;
}
bool is_mark(uint32_t cp) {
    const auto c = cat(cp);
    return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}
bool is_nonspacing_mark(uint32_t cp) { return cat(cp) == UTF8PROC_CATEGORY_MN; }

bool is_chinese_char(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

std::string normalize_form(std::string_view s, NormForm form) {
    if (s.empty()) return {};
    bool ascii = true;
    for (char c : s) if (static_cast<unsigned char>(c) >= 0x80) { ascii = false; break; }
    if (ascii) return std::string(s);  // ASCII is invariant under every form
    if (form == NormForm::kNfc) {
        // Text made only of code points below U+0300 (Latin, no combining marks) or of CJK
        // unified ideographs is already NFC: skip utf8proc's allocation and passes.
        bool stable = true;
        for (size_t i = 0; i < s.size() && stable;) {
            const uint32_t cp = next_cp(s, i);
            stable = cp < 0x300 || (cp >= 0x4E00 && cp <= 0x9FFF);
        }
        if (stable) return std::string(s);
    }
    int opts = UTF8PROC_STABLE;
    switch (form) {
        case NormForm::kNfc: opts |= UTF8PROC_COMPOSE; break;
        case NormForm::kNfd: opts |= UTF8PROC_DECOMPOSE; break;
        case NormForm::kNfkc: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
        case NormForm::kNfkd: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            static_cast<utf8proc_ssize_t>(s.size()), &out,
                                            static_cast<utf8proc_option_t>(opts));
    if (n < 0) return std::string(s);  // input is validated upstream; keep it unchanged
    std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
    return r;
}

std::string to_lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b));
            ++i;
            continue;
        }
        const uint32_t cp = next_cp(s, i);
        if (cp == 0x130) {  // the one unconditional multi-char lowercase mapping: İ -> i + U+0307
            out += "i\xCC\x87";
            continue;
        }
        append_utf8(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
    return out;
}

namespace {
struct ByteMap {
    std::array<std::string, 256> to_str;
    std::array<int, 512> from_cp;  // mapped code points are all < 0x144
    ByteMap() {
        from_cp.fill(-1);
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
            append_utf8(to_str[b], cp);
            from_cp[cp] = b;
        }
    }
};
const ByteMap& byte_map() {
    static const ByteMap m;
    return m;
}
}  // namespace

const std::string& byte_to_unicode(unsigned char b) { return byte_map().to_str[b]; }
int unicode_to_byte(uint32_t cp) { return cp < 512 ? byte_map().from_cp[cp] : -1; }

}  // namespace kite::tok
