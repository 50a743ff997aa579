// Turns template source into tokens, applying Jinja's whitespace rules (see lexer.h). Mirrors the
// order in which Jinja's regex lexer tries its rules, so that `-%}`, `}}` inside dict literals and
// strings containing delimiters behave the same.
#include "template/lexer.h"

#include <cstdio>

#include "template/value.h"

namespace kite::tmpl {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Python's str.rstrip() (all Unicode whitespace), on UTF-8.
std::string rstrip_py(const std::string& s) {
    std::u32string u = utf8_decode(s);
    size_t n = u.size();
    while (n > 0 && py_isspace(u[n - 1])) --n;
    if (n == u.size()) return s;
    return utf8_encode(u.substr(0, n));
}

bool all_space(const std::string& s) {
    if (s.empty()) return false;
    for (char32_t c : utf8_decode(s))
        if (!py_isspace(c)) return false;
    return true;
}

class Lexer {
public:
    explicit Lexer(std::string src) : src_(std::move(src)) {}

    std::vector<Token> run() {
        while (pos_ < src_.size()) lex_root();
        out_.push_back({TokenType::kEof, "", line_});
        return std::move(out_);
    }

private:
    [[noreturn]] void error(const std::string& msg) { fail("template syntax error: line " + std::to_string(line_) + ": " + msg); }

    void emit(TokenType t, std::string text) { out_.push_back({t, std::move(text), line_}); }

    void advance_to(size_t p) {
        for (size_t i = pos_; i < p && i < src_.size(); ++i)
            if (src_[i] == '\n') ++line_;
        pos_ = p;
    }

    bool at(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }

    // Emits the text before a tag after the `-` / lstrip_blocks rules. sign: '-', '+' or 0.
    void emit_text(std::string text, char sign, bool is_variable) {
        if (sign == '-') {
            text = rstrip_py(text);
        } else if (sign != '+' && !is_variable) {
            size_t l_pos = text.rfind('\n');
            l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
            if ((l_pos > 0 || line_starting_) && all_space(text.substr(l_pos))) text.resize(l_pos);
        }
        if (!text.empty()) emit(TokenType::kText, std::move(text));
    }

    // Matches a block end at p: `+%}`, `-%}` + whitespace, or `%}` + one optional newline (trim_blocks).
    size_t match_block_end(size_t p) const {
        if (at(p, "+%}")) return p + 3;
        if (at(p, "-%}")) {
            p += 3;
            while (p < src_.size() && is_ws(src_[p])) ++p;
            return p;
        }
        if (at(p, "%}")) return p + 2 + (p + 2 < src_.size() && src_[p + 2] == '\n' ? 1 : 0);
        return std::string::npos;
    }

    void lex_root() {
        size_t start = pos_;
        size_t tag = std::string::npos;
        while (true) {
            tag = src_.find('{', start);
            if (tag == std::string::npos || tag + 1 >= src_.size()) break;
            char k = src_[tag + 1];
            if (k == '{' || k == '%' || k == '#') break;
            start = tag + 1;
        }
        if (tag == std::string::npos || tag + 1 >= src_.size()) {
            emit(TokenType::kText, src_.substr(pos_));
            advance_to(src_.size());
            return;
        }
        char kind = src_[tag + 1];
        char sign = (tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+')) ? src_[tag + 2] : 0;
        std::string text = src_.substr(pos_, tag - pos_);
        size_t after = tag + 2 + (sign ? 1 : 0);
        if (kind == '%') {
            size_t raw_end = match_raw_begin(after);
            if (raw_end != std::string::npos) {
                emit_text(std::move(text), sign, false);
                advance_to(raw_end);
                line_starting_ = false;
                lex_raw_body();
                return;
            }
        }
        emit_text(std::move(text), sign, kind == '{');
        advance_to(after);
        line_starting_ = false;
        if (kind == '#') lex_comment();
        else lex_tag(kind == '{');
    }

    size_t match_raw_begin(size_t p) const {
        while (p < src_.size() && is_ws(src_[p])) ++p;
        if (!at(p, "raw")) return std::string::npos;
        p += 3;
        while (p < src_.size() && is_ws(src_[p])) ++p;
        if (at(p, "-%}")) {
            p += 3;
            while (p < src_.size() && is_ws(src_[p])) ++p;
            return p;
        }
        if (at(p, "%}")) return p + 2;
        return std::string::npos;
    }

    void lex_raw_body() {
        for (size_t p = pos_; p < src_.size(); ++p) {
            if (!at(p, "{%")) continue;
            size_t q = p + 2;
            char sign = (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ? src_[q] : 0;
            if (sign) ++q;
            while (q < src_.size() && is_ws(src_[q])) ++q;
            if (!at(q, "endraw")) continue;
            q += 6;
            while (q < src_.size() && is_ws(src_[q])) ++q;
            size_t end = match_block_end(q);
            if (end == std::string::npos) continue;
            emit_text(src_.substr(pos_, p - pos_), sign, false);
            advance_to(end);
            line_starting_ = src_[end - 1] == '\n';
            return;
        }
        error("missing end of raw directive ({% endraw %})");
    }

    void lex_comment() {
        for (size_t p = pos_; p < src_.size(); ++p) {
            size_t end = std::string::npos;
            if (at(p, "+#}")) {
                end = p + 3;
            } else if (at(p, "-#}")) {
                end = p + 3;
                while (end < src_.size() && is_ws(src_[end])) ++end;
            } else if (at(p, "#}")) {
                end = p + 2 + (p + 2 < src_.size() && src_[p + 2] == '\n' ? 1 : 0);
            }
            if (end == std::string::npos) continue;
            advance_to(end);
            line_starting_ = src_[end - 1] == '\n';
            return;
        }
        error("missing end of comment tag (#})");
    }

    void lex_tag(bool variable) {
        emit(variable ? TokenType::kVarBegin : TokenType::kBlockBegin, "");
        std::vector<char> balance;
        while (true) {
            size_t p = pos_;
            while (p < src_.size() && is_ws(src_[p])) ++p;
            advance_to(p);
            if (pos_ >= src_.size()) error(variable ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
            if (balance.empty()) {
                size_t end = std::string::npos;
                if (variable) {
                    if (at(p, "-}}")) {
                        end = p + 3;
                        while (end < src_.size() && is_ws(src_[end])) ++end;
                    } else if (at(p, "}}")) {
                        end = p + 2;
                    }
                } else {
                    end = match_block_end(p);
                }
                if (end != std::string::npos) {
                    emit(variable ? TokenType::kVarEnd : TokenType::kBlockEnd, "");
                    advance_to(end);
                    line_starting_ = src_[end - 1] == '\n';
                    return;
                }
            }
            lex_operand(balance);
        }
    }

    void lex_operand(std::vector<char>& balance) {
        size_t p = pos_;
        char c = src_[p];
        bool after_dot = p > 0 && src_[p - 1] == '.';
        if (is_digit(c)) {
            size_t q = p;
            while (q < src_.size() && (is_digit(src_[q]) || src_[q] == '_')) ++q;
            bool is_float = false;
            if (!after_dot && q + 1 < src_.size() && src_[q] == '.' && is_digit(src_[q + 1])) {
                is_float = true;
                ++q;
                while (q < src_.size() && (is_digit(src_[q]) || src_[q] == '_')) ++q;
            }
            if (!after_dot && q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
                size_t r = q + 1;
                if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
                if (r < src_.size() && is_digit(src_[r])) {
                    while (r < src_.size() && is_digit(src_[r])) ++r;
                    q = r;
                    is_float = true;
                }
            }
            std::string num;
            for (size_t i = p; i < q; ++i)
                if (src_[i] != '_') num += src_[i];
            emit(is_float ? TokenType::kFloat : TokenType::kInt, num);
            advance_to(q);
            return;
        }
        if (is_name_start(c)) {
            size_t q = p;
            while (q < src_.size() && is_name_char(src_[q])) ++q;
            emit(TokenType::kName, src_.substr(p, q - p));
            advance_to(q);
            return;
        }
        if (c == '\'' || c == '"') {
            lex_string(c);
            return;
        }
        static const char* kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(",
                                     ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};
        for (const char* op : kOps) {
            if (!at(p, op)) continue;
            std::string s(op);
            if (s == "{" || s == "(" || s == "[") {
                balance.push_back(s == "{" ? '}' : s == "(" ? ')' : ']');
            } else if (s == "}" || s == ")" || s == "]") {
                if (balance.empty()) error("unexpected '" + s + "'");
                if (balance.back() != s[0]) error("unexpected '" + s + "', expected '" + std::string(1, balance.back()) + "'");
                balance.pop_back();
            }
            emit(TokenType::kOp, s);
            advance_to(p + s.size());
            return;
        }
        error(std::string("unexpected char '") + c + "'");
    }

    // Python's 'unicode-escape' decoding of a quoted literal (unknown escapes kept verbatim).
    void lex_string(char quote) {
        std::string value;
        size_t p = pos_ + 1;
        while (true) {
            if (p >= src_.size()) error("unterminated string literal");
            char c = src_[p];
            if (c == quote) break;
            if (c != '\\') {
                value += c;
                ++p;
                continue;
            }
            if (p + 1 >= src_.size()) error("unterminated string literal");
            char e = src_[p + 1];
            p += 2;
            auto hex = [&](int n) -> char32_t {
                char32_t v = 0;
                for (int i = 0; i < n; ++i, ++p) {
                    if (p >= src_.size() || !isxdigit(static_cast<unsigned char>(src_[p]))) error("truncated \\x/\\u escape in string literal");
                    char h = src_[p];
                    v = v * 16 + (is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                return v;
            };
            switch (e) {
                case 'n': value += '\n'; break;
                case 't': value += '\t'; break;
                case 'r': value += '\r'; break;
                case '\\': value += '\\'; break;
                case '\'': value += '\''; break;
                case '"': value += '"'; break;
                case 'a': value += '\a'; break;
                case 'b': value += '\b'; break;
                case 'f': value += '\f'; break;
                case 'v': value += '\v'; break;
                case '\n': break;
                case 'x': utf8_append(value, hex(2)); break;
                case 'u': utf8_append(value, hex(4)); break;
                case 'U': {
                    char32_t v = hex(8);
                    if (v > 0x10ffff) error("illegal Unicode character in string literal");
                    utf8_append(value, v);
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        char32_t v = e - '0';
                        for (int i = 0; i < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++i, ++p) v = v * 8 + (src_[p] - '0');
                        utf8_append(value, v);
                    } else {
                        value += '\\';
                        value += e;
                    }
            }
        }
        emit(TokenType::kString, std::move(value));
        advance_to(p + 1);
    }

    std::string src_;
    size_t pos_ = 0;
    int line_ = 1;
    bool line_starting_ = true;
    std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex_template(std::string_view source) {
    std::string s;
    s.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            s += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            s += source[i];
        }
    }
    if (!s.empty() && s.back() == '\n') s.pop_back();  // keep_trailing_newline=False
    return Lexer(std::move(s)).run();
}

}  // namespace kite::tmpl
