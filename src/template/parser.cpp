// Parsing of template structure: text, {{ output }} and the statement tags (if, for, set, macro,
// call, filter, with, break/continue, generation/block). Expressions are in parser_expr.cpp.
#include "template/parser.h"

#include "template/parser_impl.h"

namespace kite::tmpl {

Body Parser::parse_body(const std::vector<std::string>& ends) {
    Body body;
    while (true) {
        const Token& tok = cur();
        if (tok.type == TokenType::kEof) {
            if (!ends.empty()) error("unexpected end of template; expected '" + ends[0] + "'");
            return body;
        }
        if (tok.type == TokenType::kText) {
            auto s = std::make_unique<Stmt>();
            s->kind = Stmt::Kind::kText;
            s->line = tok.line;
            s->text = tok.text;
            body.push_back(std::move(s));
            next();
        } else if (tok.type == TokenType::kVarBegin) {
            next();
            auto s = std::make_unique<Stmt>();
            s->kind = Stmt::Kind::kOutput;
            s->line = tok.line;
            s->expr = parse_tuple(true);
            if (cur().type != TokenType::kVarEnd) error("expected end of print statement, got " + describe());
            next();
            body.push_back(std::move(s));
        } else if (tok.type == TokenType::kBlockBegin) {
            next();
            if (cur().type != TokenType::kName) error("expected a tag name, got " + describe());
            for (const auto& e : ends)
                if (cur().text == e) return body;
            body.push_back(parse_statement());
        } else {
            error("unexpected " + describe());
        }
    }
}

// Consumes `{% name` already positioned at name, then its block end.
void Parser::end_tag(const char* name) {
    if (!skip_name(name)) error(std::string("expected '") + name + "'");
    expect_block_end();
}

StmtPtr Parser::parse_statement() {
    Guard g(this);
    auto s = std::make_unique<Stmt>();
    s->line = cur().line;
    std::string tag = cur().text;
    next();
    if (tag == "if") {
        s->kind = Stmt::Kind::kIf;
        while (true) {
            ExprPtr c = parse_tuple(false);
            expect_block_end();
            Body b = parse_body({"elif", "else", "endif"});
            s->branches.emplace_back(std::move(c), std::move(b));
            if (skip_name("elif")) continue;
            if (skip_name("else")) {
                expect_block_end();
                s->else_body = parse_body({"endif"});
            }
            end_tag("endif");
            break;
        }
    } else if (tag == "for") {
        s->kind = Stmt::Kind::kFor;
        s->target = parse_assign_target(false);
        if (!skip_name("in")) error("expected 'in' in for loop, got " + describe());
        s->expr = parse_tuple(false, /*no_condexpr=*/true);
        if (skip_name("if")) s->cond = parse_expression();
        if (skip_name("recursive")) s->recursive = true;
        expect_block_end();
        s->body = parse_body({"endfor", "else"});
        if (skip_name("else")) {
            expect_block_end();
            s->else_body = parse_body({"endfor"});
        }
        end_tag("endfor");
    } else if (tag == "set") {
        s->kind = Stmt::Kind::kSet;
        s->target = parse_assign_target(true);
        if (skip_op("=")) {
            s->expr = parse_tuple(true);
            expect_block_end();
        } else {
            while (skip_op("|")) s->filters.push_back(parse_filter_call(nullptr));
            expect_block_end();
            s->body = parse_body({"endset"});
            end_tag("endset");
        }
    } else if (tag == "macro") {
        s->kind = Stmt::Kind::kMacro;
        s->text = expect_name();
        parse_signature(s->params, true);
        expect_block_end();
        s->body = parse_body({"endmacro"});
        end_tag("endmacro");
    } else if (tag == "call") {
        s->kind = Stmt::Kind::kCallBlock;
        if (is_op("(")) parse_signature(s->params, true);
        s->expr = parse_expression();
        if (s->expr->kind != Expr::Kind::kCall) error("expected a call after {% call %}");
        expect_block_end();
        s->body = parse_body({"endcall"});
        end_tag("endcall");
    } else if (tag == "filter") {
        s->kind = Stmt::Kind::kFilterBlock;
        do {
            s->filters.push_back(parse_filter_call(nullptr));
        } while (skip_op("|"));
        expect_block_end();
        s->body = parse_body({"endfilter"});
        end_tag("endfilter");
    } else if (tag == "with") {
        s->kind = Stmt::Kind::kWith;
        while (cur().type != TokenType::kBlockEnd) {
            if (!s->assigns.empty()) expect_op(",");
            std::string n = expect_name();
            expect_op("=");
            s->assigns.emplace_back(n, parse_expression());
        }
        expect_block_end();
        s->body = parse_body({"endwith"});
        end_tag("endwith");
    } else if (tag == "break" || tag == "continue") {
        s->kind = tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
        expect_block_end();
    } else if (tag == "generation" || tag == "block") {
        // HF's {% generation %} marks assistant text for masks and renders its body unchanged;
        // a {% block %} without inheritance renders in place.
        s->kind = Stmt::Kind::kScope;
        if (tag == "block") expect_name();
        while (tag == "block" && (skip_name("scoped") || skip_name("required"))) {
        }
        expect_block_end();
        std::string end = "end" + tag;
        s->body = parse_body({end});
        next();
        if (tag == "block" && cur().type == TokenType::kName) next();
        expect_block_end();
    } else if (tag == "extends" || tag == "include" || tag == "import" || tag == "from") {
        error("'" + tag + "' is not supported: templates are rendered sandboxed, without access to other files");
    } else {
        error("unknown or unsupported tag '" + tag + "'");
    }
    return s;
}

// `(a, b=default, ...)`
void Parser::parse_signature(std::vector<MacroParam>& params, bool allow_defaults) {
    expect_op("(");
    while (!is_op(")")) {
        if (!params.empty()) expect_op(",");
        if (is_op(")")) break;
        MacroParam p;
        p.name = expect_name();
        if (allow_defaults && skip_op("=")) p.default_value = parse_expression();
        else if (!params.empty() && params.back().default_value) error("non-default argument follows default argument");
        params.push_back(std::move(p));
    }
    next();
}

ExprPtr Parser::parse_assign_target(bool allow_namespace) {
    int line = cur().line;
    std::vector<ExprPtr> names;
    while (true) {
        auto n = make(Expr::Kind::kName, line);
        n->name = expect_name();
        if (allow_namespace && is_op(".")) {
            next();
            auto a = make(Expr::Kind::kAttr, line);
            a->name = expect_name();
            a->items.push_back(std::move(n));
            return a;
        }
        names.push_back(std::move(n));
        if (!skip_op(",")) break;
    }
    if (names.size() == 1) return std::move(names[0]);
    auto t = make(Expr::Kind::kTuple, line);
    t->items = std::move(names);
    return t;
}

TemplateAst parse_template(std::string_view source) { return Parser(lex_template(source)).parse(); }

}  // namespace kite::tmpl
