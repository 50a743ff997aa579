// Expression parsing with Jinja's precedence (lowest first): conditional, or, and, not,
// comparisons/in, + -, ~, * / // %, **, unary - +, then primary with postfix ., [], (), | filter, is test.
#include <cerrno>
#include <cstdlib>

#include "template/parser_impl.h"

namespace kite::tmpl {

ExprPtr Parser::parse_tuple(bool allow_condexpr, bool no_condexpr) {
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

ExprPtr Parser::parse_expression() {
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

ExprPtr Parser::binary(const std::string& op, ExprPtr a, ExprPtr b, int line) {
    auto e = make(Expr::Kind::kBinary, line);
    e->name = op;
    e->items.push_back(std::move(a));
    e->items.push_back(std::move(b));
    return e;
}

ExprPtr Parser::parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
        int line = cur().line;
        next();
        e = binary("or", std::move(e), parse_and(), line);
    }
    return e;
}

ExprPtr Parser::parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
        int line = cur().line;
        next();
        e = binary("and", std::move(e), parse_not(), line);
    }
    return e;
}

ExprPtr Parser::parse_not() {
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
ExprPtr Parser::parse_compare() {
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

ExprPtr Parser::clone(const Expr& e) {
    auto c = make(e.kind, e.line);
    c->name = e.name;
    c->literal = e.literal;
    c->negated = e.negated;
    for (const auto& i : e.items) c->items.push_back(i ? clone(*i) : nullptr);
    for (const auto& [k, v] : e.kwargs) c->kwargs.emplace_back(k, clone(*v));
    return c;
}

ExprPtr Parser::parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
        std::string op = cur().text;
        int line = cur().line;
        next();
        e = binary(op, std::move(e), parse_concat(), line);
    }
    return e;
}

ExprPtr Parser::parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
        int line = cur().line;
        next();
        e = binary("~", std::move(e), parse_math2(), line);
    }
    return e;
}

ExprPtr Parser::parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
        std::string op = cur().text;
        int line = cur().line;
        next();
        e = binary(op, std::move(e), parse_pow(), line);
    }
    return e;
}

ExprPtr Parser::parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
        int line = cur().line;
        next();
        e = binary("**", std::move(e), parse_unary(true), line);
    }
    return e;
}

ExprPtr Parser::parse_unary(bool with_filter) {
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

ExprPtr Parser::parse_primary() {
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

ExprPtr Parser::parse_postfix(ExprPtr e) {
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

ExprPtr Parser::parse_subscript(ExprPtr target, int line) {
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

void Parser::parse_call_args(Expr& call) {
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

ExprPtr Parser::parse_call(ExprPtr callee) {
    auto c = make(Expr::Kind::kCall, cur().line);
    c->items.push_back(std::move(callee));
    parse_call_args(*c);
    return c;
}

// `name[.name](args)` after a `|`; operand may be null (filter blocks).
ExprPtr Parser::parse_filter_call(ExprPtr operand) {
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

ExprPtr Parser::parse_filter_expr(ExprPtr e) {
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

}  // namespace kite::tmpl
