// Jinja parser: tokens (lexer.h) to a tree (ast.h). Follows Jinja's grammar and operator precedence;
// tags kite does not support (extends, include, import, ...) are reported by name.
#pragma once

#include <string_view>

#include "template/ast.h"

namespace kite::tmpl {

// Throws TemplateError ("template syntax error: line N: ...").
TemplateAst parse_template(std::string_view source);

}  // namespace kite::tmpl
