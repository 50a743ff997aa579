// The values a template computes with, modelled on the Python objects Hugging Face's renderer sees:
// None, bool, int, float, str, list/tuple, dict, Jinja's Undefined, and opaque objects (macros,
// loop, namespace, bound methods). Python's str()/repr(), ==, < and truthiness live in value.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"

namespace kite::tmpl {

// Raised inside the engine and turned into a Status at render_chat_template / Template::render:
// the interpreter is deeply recursive and an error can surface anywhere, so one internal exception
// type keeps every evaluator function readable. Nothing escapes the module.
struct TemplateError {
    std::string message;
    bool from_raise_exception = false;  // raise_exception(msg): message must reach the caller verbatim
};
[[noreturn]] void fail(std::string message);

class Value;
class Object;
class Evaluator;
struct List;
struct Dict;
using ListPtr = std::shared_ptr<const List>;
using DictPtr = std::shared_ptr<const Dict>;
using ObjectPtr = std::shared_ptr<Object>;

// Jinja's plain Undefined: prints as "", iterates as empty, is false; most other uses raise.
// `hint` is Jinja's message for that error ("'x' is undefined", "'dict object' has no attribute 'y'").
struct Undefined {
    std::string hint;
};
struct None {};

class Value {
public:
    enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kObject };

    Value() : v_(Undefined{}) {}
    Value(None) : v_(None{}) {}
    Value(Undefined u) : v_(std::move(u)) {}
    Value(bool b) : v_(b) {}
    Value(int64_t i) : v_(i) {}
    Value(int i) : v_(int64_t{i}) {}
    Value(double d) : v_(d) {}
    Value(std::string s) : v_(std::move(s)) {}
    Value(const char* s) : v_(std::string(s)) {}
    Value(ListPtr l) : v_(std::move(l)) {}
    Value(DictPtr d) : v_(std::move(d)) {}
    Value(ObjectPtr o) : v_(std::move(o)) {}

    static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }
    static Value list(std::vector<Value> items, bool tuple = false);
    static Value dict(std::vector<std::pair<Value, Value>> items);
    static Value iterator(std::vector<Value> items, std::string type = "generator");
    // MarkupSafe's Markup: a string marked safe by |safe or |escape. Plain strings joined to it
    // with + or % are HTML-escaped first (templates meet this through "..."|safe + x).
    static Value markup(std::string s) {
        Value v(std::move(s));
        v.markup_ = true;
        return v;
    }
    bool is_markup() const { return markup_ && is_string(); }
    // Same kind of string as `like` (Markup stays Markup), holding s.
    static Value string_like(const Value& like, std::string s) { return like.is_markup() ? markup(std::move(s)) : Value(std::move(s)); }

    Kind kind() const { return static_cast<Kind>(v_.index()); }
    bool is_undefined() const { return kind() == Kind::kUndefined; }
    bool is_none() const { return kind() == Kind::kNone; }
    bool is_bool() const { return kind() == Kind::kBool; }
    bool is_int() const { return kind() == Kind::kInt; }  // not bool (Python's bool is an int, see is_integral)
    bool is_float() const { return kind() == Kind::kFloat; }
    bool is_number() const { return is_bool() || is_int() || is_float(); }
    bool is_integral() const { return is_bool() || is_int(); }
    bool is_string() const { return kind() == Kind::kString; }
    bool is_list() const;      // list or tuple (not an iterator)
    bool is_iterator() const;  // a lazy iterator from map/select/...
    bool is_dict() const { return kind() == Kind::kDict; }
    bool is_object() const { return kind() == Kind::kObject; }

    bool as_bool() const { return std::get<bool>(v_); }
    int64_t as_int() const { return is_bool() ? (as_bool() ? 1 : 0) : std::get<int64_t>(v_); }
    double as_double() const { return is_float() ? std::get<double>(v_) : static_cast<double>(as_int()); }
    const std::string& as_string() const { return std::get<std::string>(v_); }
    const List& as_list() const { return *std::get<ListPtr>(v_); }
    const Dict& as_dict() const { return *std::get<DictPtr>(v_); }
    const ListPtr& list_ptr() const { return std::get<ListPtr>(v_); }
    const DictPtr& dict_ptr() const { return std::get<DictPtr>(v_); }
    Object& as_object() const { return *std::get<ObjectPtr>(v_); }
    const ObjectPtr& object_ptr() const { return std::get<ObjectPtr>(v_); }
    const std::string& undefined_hint() const { return std::get<Undefined>(v_).hint; }

    bool truthy() const;
    std::string str() const;   // Python str(): what {{ x }} prints
    std::string repr() const;  // Python repr(): how x prints inside a list or dict
    std::string type_name() const;  // Python's type name, for error messages ('str', 'dict', ...)
    // Raises Jinja's UndefinedError when this is Undefined (most operations on Undefined do).
    const Value& require_defined() const;

private:
    std::variant<Undefined, None, bool, int64_t, double, std::string, ListPtr, DictPtr, ObjectPtr> v_;
    bool markup_ = false;
};

// Lists and dicts record their nesting depth and refuse to nest deeper than kMaxValueDepth, so that
// printing, comparing and freeing them (all recursive) stay within the stack.
constexpr int kMaxValueDepth = 1000;
int nesting_depth(const Value& v);

struct List {
    std::vector<Value> items;
    int depth = 1;
    bool tuple = false;  // a tuple prints as (a, b)
    // Non-empty for the lazy iterators Jinja's map/select/reverse/... return ("generator",
    // "list_reverseiterator"): iterable, but no len(), no indexing, not JSON-serializable.
    std::string iterator_type;
};

// Insertion-ordered like a Python dict. Lookups are linear: template dicts are small.
struct Dict {
    std::vector<std::pair<Value, Value>> items;
    int depth = 1;
    const Value* find(const Value& key) const;
    const Value* find(const std::string& key) const;
};

inline bool Value::is_list() const { return kind() == Kind::kList && as_list().iterator_type.empty(); }
inline bool Value::is_iterator() const { return kind() == Kind::kList && !as_list().iterator_type.empty(); }

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
    const Value* kw(const std::string& name) const;
    // Positional i, else keyword `name`, else nullptr.
    const Value* get(size_t i, const std::string& name) const;
};

// Macros, loop, namespace, builtin functions and bound methods.
class Object {
public:
    virtual ~Object() = default;
    virtual std::string type_name() const = 0;
    virtual std::optional<Value> attr(const std::string& name) const { return std::nullopt; }
    virtual bool set_attr(const std::string& name, const Value& value) { return false; }  // namespace only
    virtual bool callable() const { return false; }
    virtual Value call(Evaluator& ev, const CallArgs& args) const;
    virtual std::string repr() const { return "<" + type_name() + " object>"; }
    // Drops the references this object holds. Macros (via their scope) and namespaces can form
    // reference cycles; the evaluator calls this on them when a render ends.
    virtual void release() {}
};

bool py_equal(const Value& a, const Value& b);
// Python's <: numbers with numbers, str with str, list with list; otherwise TypeError.
bool py_less(const Value& a, const Value& b);

std::string html_escape(const std::string& s);
// A value as Markup's operators see it: Markup unchanged, anything else escaped (str()-ed first).
Value markup_escape(const Value& v);

std::string py_float_repr(double d);
std::string py_str_repr(const std::string& s);

// UTF-8 <-> code points, for the string operations Python defines on characters.
std::u32string utf8_decode(const std::string& s);
std::string utf8_encode(const std::u32string& s);
void utf8_append(std::string& out, char32_t c);
bool py_isspace(char32_t c);
size_t utf8_length(const std::string& s);

}  // namespace kite::tmpl
