// The syntax tree the parser builds and the evaluator walks: expressions and statements.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace kite::tmpl {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        kLiteral,  // literal
        kName,     // name
        kList,     // items
        kTuple,    // items
        kDict,     // items: key, value, key, value...
        kAttr,     // items[0].name
        kItem,     // items[0][items[1]]
        kSlice,    // items[0][items[1]:items[2]:items[3]] (null = omitted)
        kCall,     // items[0](items[1..], kwargs)
        kFilter,   // items[0] | name(items[1..], kwargs); items[0] null inside {% filter %} / block set
        kTest,     // items[0] is [not] name(items[1..], kwargs)
        kUnary,    // op items[0]: "-", "+", "not"
        kBinary,   // items[0] op items[1]
        kCond,     // items[0] if items[1] else items[2] (items[2] null: Undefined)
    };
    Kind kind;
    int line = 0;
    std::string name;  // name, attribute, filter/test name or operator
    Value literal;
    std::vector<ExprPtr> items;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    bool negated = false;  // kTest: `is not`
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct MacroParam {
    std::string name;
    ExprPtr default_value;  // null: required
};

struct Stmt {
    enum class Kind {
        kText,         // text
        kOutput,       // {{ expr }}
        kIf,           // branches (cond, body); else_body
        kFor,          // target in expr [if cond] body [else else_body]
        kSet,          // target = expr, or block set: target = body | filters
        kMacro,        // name(params) body
        kCallBlock,    // {% call(params) expr %} body
        kFilterBlock,  // {% filter filters %} body
        kWith,         // {% with assigns %} body
        kBreak,
        kContinue,
        kScope,        // {% block %} / {% generation %}: renders body in place
    };
    Kind kind;
    int line = 0;
    std::string text;  // kText; kMacro name
    ExprPtr target;    // kFor / kSet target: kName, kTuple of kName, or kAttr on a kName (namespace)
    ExprPtr expr;      // kOutput, kFor iterable, kSet value, kCallBlock call
    ExprPtr cond;      // kFor filter condition
    std::vector<std::pair<ExprPtr, Body>> branches;  // kIf
    Body body;
    Body else_body;
    std::vector<ExprPtr> filters;  // kFilterBlock, block kSet (each kFilter with items[0] null)
    std::vector<MacroParam> params;  // kMacro, kCallBlock
    std::vector<std::pair<std::string, ExprPtr>> assigns;  // kWith
    bool recursive = false;  // kFor
};

// A parsed template. Owns the tree; immutable after parsing so it can be rendered many times.
struct TemplateAst {
    Body body;
};

}  // namespace kite::tmpl
