// UTF-8 plumbing and the Unicode questions the tokenizer pipeline asks (categories, whitespace,
// normalization forms, lowercase), answered by utf8proc so that no tables are kept here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kite::tok {

// Byte length of the UTF-8 sequence starting with lead byte `b` (1 for stray bytes).
inline size_t utf8_len(unsigned char b) {
    if (b < 0x80) return 1;
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 3;
    if ((b & 0xF8) == 0xF0) return 4;
    return 1;
}

// Decodes the code point at s[i] (input must be valid UTF-8) and advances i.
inline uint32_t next_cp(std::string_view s, size_t& i) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    const size_t n = utf8_len(b);
    if (i + n > s.size()) { ++i; return 0xFFFD; }
    uint32_t cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    return cp;
}

void append_utf8(std::string& out, uint32_t cp);

// Byte offset of the first invalid sequence, or npos when `s` is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);
// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);

bool is_whitespace(uint32_t cp);      // Unicode White_Space (Rust char::is_whitespace)
bool is_alphanumeric(uint32_t cp);    // letters and numbers (Rust char::is_alphanumeric)
bool is_punctuation(uint32_t cp);     // general category P*
bool is_numeric(uint32_t cp);         // general category N* (Rust char::is_numeric)
bool is_bert_punctuation(uint32_t cp);  // ASCII punctuation or P*
bool is_other(uint32_t cp);           // Cc, Cf, Cs, Co (not unassigned: see unicode.cpp)
bool is_mark(uint32_t cp);            // general category M*
bool is_nonspacing_mark(uint32_t cp); // general category Mn
bool is_chinese_char(uint32_t cp);    // CJK ideograph blocks, as BERT defines them

enum class NormForm { kNfc, kNfd, kNfkc, kNfkd };
std::string normalize_form(std::string_view s, NormForm form);
std::string to_lower(std::string_view s);

// GPT-2's reversible byte <-> printable code point map used by ByteLevel.
const std::string& byte_to_unicode(unsigned char b);  // UTF-8 of the mapped code point
int unicode_to_byte(uint32_t cp);                     // -1 when cp is not in the map

}  // namespace kite::tok
