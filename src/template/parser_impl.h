// The parser class shared by parser.cpp (statements) and parser_expr.cpp (expressions).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "template/ast.h"
#include "template/lexer.h"

namespace kite::tmpl {

constexpr int kMaxNesting = 200;  // bounds parser recursion on adversarial input

class Parser {
public:
    explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

    TemplateAst parse() {
        TemplateAst ast;
        ast.body = parse_body({});
        if (cur().type != TokenType::kEof) error("unexpected '" + cur().text + "'");
        return ast;
    }

private:
    const Token& cur() const { return t_[p_]; }
    const Token& peek(size_t k = 1) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
    void next() {
        if (p_ + 1 < t_.size()) ++p_;
    }
    [[noreturn]] void error(const std::string& msg) const {
        fail("template syntax error: line " + std::to_string(cur().line) + ": " + msg);
    }
    bool is_op(const char* op) const { return cur().type == TokenType::kOp && cur().text == op; }
    bool is_name(const char* n) const { return cur().type == TokenType::kName && cur().text == n; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(const char* n) {
        if (!is_name(n)) return false;
        next();
        return true;
    }
    std::string describe() const {
        switch (cur().type) {
            case TokenType::kEof: return "end of template";
            case TokenType::kBlockEnd: return "end of statement block";
            case TokenType::kVarEnd: return "end of print statement";
            case TokenType::kString: return "string";
            default: return "'" + cur().text + "'";
        }
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) error(std::string("expected '") + op + "', got " + describe());
    }
    std::string expect_name() {
        if (cur().type != TokenType::kName) error("expected a name, got " + describe());
        std::string n = cur().text;
        next();
        return n;
    }
    void expect_block_end() {
        if (cur().type != TokenType::kBlockEnd) error("expected end of statement block, got " + describe());
        next();
    }

    ExprPtr make(Expr::Kind k, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = line;
        return e;
    }

    // ---- statements (parser.cpp) ----

    Body parse_body(const std::vector<std::string>& ends);
    // Consumes `{% name` already positioned at name, then its block end.
    void end_tag(const char* name);
    StmtPtr parse_statement();
    // `(a, b=default, ...)`
    void parse_signature(std::vector<MacroParam>& params, bool allow_defaults);
    ExprPtr parse_assign_target(bool allow_namespace);

    // ---- expressions (parser_expr.cpp) ----

    struct Guard {
        explicit Guard(Parser* p) : p_(p) {
            if (++p_->depth_ > kMaxNesting) p_->error("template nested too deeply");
        }
        ~Guard() { --p_->depth_; }
        Parser* p_;
    };

    ExprPtr parse_tuple(bool allow_condexpr, bool no_condexpr = false);
    ExprPtr parse_expression();
    ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b, int line);
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    // Chained comparisons (a < b < c) become (a < b) and (b < c); operands have no side effects.
    ExprPtr parse_compare();
    ExprPtr clone(const Expr& e);
    ExprPtr parse_math1();  // + -
    ExprPtr parse_concat();
    ExprPtr parse_math2();  // * / // %
    ExprPtr parse_pow();
    ExprPtr parse_unary(bool with_filter);
    ExprPtr parse_primary();
    ExprPtr parse_postfix(ExprPtr e);
    ExprPtr parse_subscript(ExprPtr target, int line);
    void parse_call_args(Expr& call);
    ExprPtr parse_call(ExprPtr callee);
    // `name[.name](args)` after a `|`; operand may be null (filter blocks).
    ExprPtr parse_filter_call(ExprPtr operand);
    ExprPtr parse_filter_expr(ExprPtr e);

    std::vector<Token> t_;
    size_t p_ = 0;
    int depth_ = 0;
};

}  // namespace kite::tmpl
