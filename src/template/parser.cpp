// Recursive-descent parser with Jinja's precedence (lowest first): conditional, or, and, not,
// comparisons/in, + -, ~, * / // %, **, unary - +, then primary with postfix ., [], (), | filter, is test.
#include "template/parser.h"

#include <cstdlib>

#include "template/lexer.h"

namespace kite::tmpl {
namespace {

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

    // ---- statements ----

    // Parses until a {% name %} with name in `ends` (left unconsumed, after its {%) or EOF.
    Body parse_body(const std::vector<std::string>& ends) {
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
    void end_tag(const char* name) {
        if (!skip_name(name)) error(std::string("expected '") + name + "'");
        expect_block_end();
    }

    StmtPtr parse_statement() {
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
    void parse_signature(std::vector<MacroParam>& params, bool allow_defaults) {
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

    ExprPtr parse_assign_target(bool allow_namespace) {
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

    // ---- expressions ----

    struct Guard {
        explicit Guard(Parser* p) : p_(p) {
            if (++p_->depth_ > kMaxNesting) p_->error("template nested too deeply");
        }
        ~Guard() { --p_->depth_; }
        Parser* p_;
    };

    // Comma-separated expressions become a tuple. no_condexpr: `for x in y if c` keeps its `if`.
    ExprPtr parse_tuple(bool allow_condexpr, bool no_condexpr = false) {
        int line = cur().line;
        std::vector<ExprPtr> items;
        bool comma = false;
        while (true) {
            if (!items.empty()) {
                if (!skip_op(",")) break;
                comma = true;
                if (cur().type == TokenType::kVarEnd || cur().type == TokenType::kBlockEnd || is_op(")") ||
                    is_name("if") || is_name("recursive"))
                    break;
            }
            items.push_back(no_condexpr ? parse_or() : parse_expression());
        }
        if (!comma) return std::move(items[0]);
        auto t = make(Expr::Kind::kTuple, line);
        t->items = std::move(items);
        return t;
    }

    ExprPtr parse_expression() {
        Guard g(this);
        ExprPtr e = parse_or();
        while (is_name("if")) {
            int line = cur().line;
            next();
            auto c = make(Expr::Kind::kCond, line);
            ExprPtr cond = parse_or();
            ExprPtr other = skip_name("else") ? parse_expression() : nullptr;
            c->items.push_back(std::move(e));
            c->items.push_back(std::move(cond));
            c->items.push_back(std::move(other));
            e = std::move(c);
        }
        return e;
    }

    ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b, int line) {
        auto e = make(Expr::Kind::kBinary, line);
        e->name = op;
        e->items.push_back(std::move(a));
        e->items.push_back(std::move(b));
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr e = parse_and();
        while (is_name("or")) {
            int line = cur().line;
            next();
            e = binary("or", std::move(e), parse_and(), line);
        }
        return e;
    }

    ExprPtr parse_and() {
        ExprPtr e = parse_not();
        while (is_name("and")) {
            int line = cur().line;
            next();
            e = binary("and", std::move(e), parse_not(), line);
        }
        return e;
    }

    ExprPtr parse_not() {
        Guard g(this);
        if (is_name("not")) {
            int line = cur().line;
            next();
            auto u = make(Expr::Kind::kUnary, line);
            u->name = "not";
            u->items.push_back(parse_not());
            return u;
        }
        return parse_compare();
    }

    // Chained comparisons (a < b < c) become (a < b) and (b < c); operands have no side effects.
    ExprPtr parse_compare() {
        int line = cur().line;
        ExprPtr left = parse_math1();
        ExprPtr result;
        const Expr* prev = nullptr;
        ExprPtr first_left;
        while (true) {
            std::string op;
            if (cur().type == TokenType::kOp &&
                (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") || is_op(">") || is_op(">="))) {
                op = cur().text;
                next();
            } else if (is_name("in")) {
                op = "in";
                next();
            } else if (is_name("not") && peek().type == TokenType::kName && peek().text == "in") {
                op = "not in";
                next();
                next();
            } else {
                break;
            }
            ExprPtr right = parse_math1();
            ExprPtr lhs = prev ? clone(*prev) : std::move(left);
            prev = right.get();
            ExprPtr cmp = binary(op, std::move(lhs), std::move(right), line);
            result = result ? binary("and", std::move(result), std::move(cmp), line) : std::move(cmp);
        }
        return result ? std::move(result) : std::move(left);
    }

    ExprPtr clone(const Expr& e) {
        auto c = make(e.kind, e.line);
        c->name = e.name;
        c->literal = e.literal;
        c->negated = e.negated;
        for (const auto& i : e.items) c->items.push_back(i ? clone(*i) : nullptr);
        for (const auto& [k, v] : e.kwargs) c->kwargs.emplace_back(k, clone(*v));
        return c;
    }

    ExprPtr parse_math1() {
        ExprPtr e = parse_concat();
        while (is_op("+") || is_op("-")) {
            std::string op = cur().text;
            int line = cur().line;
            next();
            e = binary(op, std::move(e), parse_concat(), line);
        }
        return e;
    }

    ExprPtr parse_concat() {
        ExprPtr e = parse_math2();
        while (is_op("~")) {
            int line = cur().line;
            next();
            e = binary("~", std::move(e), parse_math2(), line);
        }
        return e;
    }

    ExprPtr parse_math2() {
        ExprPtr e = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            std::string op = cur().text;
            int line = cur().line;
            next();
            e = binary(op, std::move(e), parse_pow(), line);
        }
        return e;
    }

    ExprPtr parse_pow() {
        ExprPtr e = parse_unary(true);
        while (is_op("**")) {
            int line = cur().line;
            next();
            e = binary("**", std::move(e), parse_unary(true), line);
        }
        return e;
    }

    ExprPtr parse_unary(bool with_filter) {
        Guard g(this);
        int line = cur().line;
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            std::string op = cur().text;
            next();
            e = make(Expr::Kind::kUnary, line);
            e->name = op;
            e->items.push_back(parse_unary(false));
        } else {
            e = parse_postfix(parse_primary());
        }
        return with_filter ? parse_filter_expr(std::move(e)) : std::move(e);
    }

    ExprPtr parse_primary() {
        Guard g(this);
        const Token& tok = cur();
        int line = tok.line;
        if (tok.type == TokenType::kName) {
            std::string n = tok.text;
            next();
            auto e = make(Expr::Kind::kLiteral, line);
            if (n == "true" || n == "True") e->literal = Value(true);
            else if (n == "false" || n == "False") e->literal = Value(false);
            else if (n == "none" || n == "None") e->literal = Value(None{});
            else {
                e->kind = Expr::Kind::kName;
                e->name = n;
            }
            return e;
        }
        if (tok.type == TokenType::kString) {
            std::string s;
            while (cur().type == TokenType::kString) {  // adjacent literals concatenate
                s += cur().text;
                next();
            }
            auto e = make(Expr::Kind::kLiteral, line);
            e->literal = Value(std::move(s));
            return e;
        }
        if (tok.type == TokenType::kInt || tok.type == TokenType::kFloat) {
            auto e = make(Expr::Kind::kLiteral, line);
            errno = 0;
            if (tok.type == TokenType::kInt) {
                long long v = std::strtoll(tok.text.c_str(), nullptr, 10);
                if (errno == ERANGE) error("integer literal " + tok.text + " is too large (kite supports 64-bit integers)");
                e->literal = Value(static_cast<int64_t>(v));
            } else {
                e->literal = Value(std::strtod(tok.text.c_str(), nullptr));
            }
            next();
            return e;
        }
        if (is_op("(")) {
            next();
            if (skip_op(")")) {
                auto t = make(Expr::Kind::kTuple, line);
                return t;
            }
            ExprPtr e = parse_tuple(true);
            expect_op(")");
            return e;
        }
        if (is_op("[")) {
            next();
            auto l = make(Expr::Kind::kList, line);
            while (!is_op("]")) {
                if (!l->items.empty()) expect_op(",");
                if (is_op("]")) break;
                l->items.push_back(parse_expression());
            }
            next();
            return l;
        }
        if (is_op("{")) {
            next();
            auto d = make(Expr::Kind::kDict, line);
            while (!is_op("}")) {
                if (!d->items.empty()) expect_op(",");
                if (is_op("}")) break;
                d->items.push_back(parse_expression());
                expect_op(":");
                d->items.push_back(parse_expression());
            }
            next();
            return d;
        }
        error("unexpected " + describe());
    }

    ExprPtr parse_postfix(ExprPtr e) {
        while (true) {
            int line = cur().line;
            if (is_op(".")) {
                next();
                if (cur().type == TokenType::kName) {
                    auto a = make(Expr::Kind::kAttr, line);
                    a->name = cur().text;
                    next();
                    a->items.push_back(std::move(e));
                    e = std::move(a);
                } else if (cur().type == TokenType::kInt) {
                    auto i = make(Expr::Kind::kItem, line);
                    auto lit = make(Expr::Kind::kLiteral, line);
                    lit->literal = Value(static_cast<int64_t>(std::strtoll(cur().text.c_str(), nullptr, 10)));
                    next();
                    i->items.push_back(std::move(e));
                    i->items.push_back(std::move(lit));
                    e = std::move(i);
                } else {
                    error("expected an attribute name after '.', got " + describe());
                }
            } else if (is_op("[")) {
                next();
                e = parse_subscript(std::move(e), line);
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr target, int line) {
        ExprPtr parts[3];
        int part = 0;
        bool is_slice = false;
        while (!is_op("]")) {
            if (is_op(":")) {
                next();
                is_slice = true;
                if (++part > 2) error("invalid slice");
                continue;
            }
            if (parts[part]) error("expected ']' or ':' in subscript, got " + describe());
            parts[part] = parse_expression();
        }
        next();
        if (!is_slice) {
            if (!parts[0]) error("empty subscript");
            auto i = make(Expr::Kind::kItem, line);
            i->items.push_back(std::move(target));
            i->items.push_back(std::move(parts[0]));
            return i;
        }
        auto s = make(Expr::Kind::kSlice, line);
        s->items.push_back(std::move(target));
        for (auto& p : parts) s->items.push_back(std::move(p));
        return s;
    }

    void parse_call_args(Expr& call) {
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (is_op("*") || is_op("**")) error("*args / **kwargs in calls are not supported");
            if (cur().type == TokenType::kName && peek().type == TokenType::kOp && peek().text == "=") {
                std::string k = cur().text;
                next();
                next();
                call.kwargs.emplace_back(k, parse_expression());
            } else {
                if (!call.kwargs.empty()) error("positional argument follows keyword argument");
                call.items.push_back(parse_expression());
            }
        }
        next();
    }

    ExprPtr parse_call(ExprPtr callee) {
        auto c = make(Expr::Kind::kCall, cur().line);
        c->items.push_back(std::move(callee));
        parse_call_args(*c);
        return c;
    }

    // `name[.name](args)` after a `|`; operand may be null (filter blocks).
    ExprPtr parse_filter_call(ExprPtr operand) {
        auto f = make(Expr::Kind::kFilter, cur().line);
        f->name = expect_name();
        while (is_op(".")) {
            next();
            f->name += "." + expect_name();
        }
        f->items.push_back(std::move(operand));
        if (is_op("(")) parse_call_args(*f);
        return f;
    }

    ExprPtr parse_filter_expr(ExprPtr e) {
        while (true) {
            if (is_op("|")) {
                next();
                e = parse_filter_call(std::move(e));
            } else if (is_name("is")) {
                next();
                auto t = make(Expr::Kind::kTest, cur().line);
                if (skip_name("not")) t->negated = true;
                t->name = expect_name();
                while (is_op(".")) {
                    next();
                    t->name += "." + expect_name();
                }
                t->items.push_back(std::move(e));
                const Token& c = cur();
                if (is_op("(")) {
                    parse_call_args(*t);
                } else if ((c.type == TokenType::kName || c.type == TokenType::kString || c.type == TokenType::kInt ||
                            c.type == TokenType::kFloat || is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) error("you cannot chain multiple tests with 'is'");
                    t->items.push_back(parse_postfix(parse_primary()));
                }
                e = std::move(t);
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    std::vector<Token> t_;
    size_t p_ = 0;
    int depth_ = 0;
};

}  // namespace

TemplateAst parse_template(std::string_view source) { return Parser(lex_template(source)).parse(); }

}  // namespace kite::tmpl
