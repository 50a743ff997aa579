// Jinja lexer with Hugging Face's settings: trim_blocks, lstrip_blocks, keep_trailing_newline=False,
// `-`/`+` whitespace control, comments and {% raw %} resolved here, so the parser sees only text
// and tag tokens. Newlines are normalized to \n first, as Jinja does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kite::tmpl {

enum class TokenType { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
    TokenType type;
    std::string text;  // kString: the decoded value; kOp: the operator spelling
    int line;
};

// Throws TemplateError ("line N: ...") on a malformed template.
std::vector<Token> lex_template(std::string_view source);

}  // namespace kite::tmpl
