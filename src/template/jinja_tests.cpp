// Jinja's tests (`x is defined`, `x is string`, `x is divisibleby 3`, ...) with Jinja 3.1's meaning,
// including Python's quirks (a bool is a number; Undefined is iterable and a sequence).
#include <functional>
#include <map>

#include "template/evaluator.h"

namespace kite::tmpl {
namespace {

using TestFn = std::function<bool(Evaluator&, const Value&, const CallArgs&)>;

const Value& need(const CallArgs& a, const char* test) {
    if (a.positional.empty()) fail(std::string("test '") + test + "' needs an argument");
    return a.positional[0];
}

bool compare(Evaluator& ev, const char* op, const Value& v, const CallArgs& a) {
    return python_binary(ev, op, v, need(a, op)).truthy();
}

bool is_callable(const Value& v) { return v.is_undefined() || (v.is_object() && v.as_object().callable()); }

const std::map<std::string, TestFn>& test_table() {
    static const std::map<std::string, TestFn> kTable = {
        {"defined", [](Evaluator&, const Value& v, const CallArgs&) { return !v.is_undefined(); }},
        {"undefined", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_undefined(); }},
        {"none", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_none(); }},
        {"string", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_string(); }},
        {"number", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_number(); }},
        {"integer", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_int(); }},
        {"float", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_float(); }},
        {"boolean", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_bool(); }},
        {"true", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_bool() && v.as_bool(); }},
        {"false", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_bool() && !v.as_bool(); }},
        {"mapping", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_dict(); }},
        {"iterable", [](Evaluator&, const Value& v, const CallArgs&) {
             return v.is_undefined() || v.is_string() || v.is_list() || v.is_iterator() || v.is_dict();
         }},
        {"sequence", [](Evaluator&, const Value& v, const CallArgs&) {
             return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
         }},
        {"callable", [](Evaluator&, const Value& v, const CallArgs&) { return is_callable(v); }},
        {"odd", [](Evaluator&, const Value& v, const CallArgs&) {
             if (!v.is_integral()) fail("test 'odd' needs an integer, got " + v.type_name());
             return (v.as_int() % 2) != 0;
         }},
        {"even", [](Evaluator&, const Value& v, const CallArgs&) {
             if (!v.is_integral()) fail("test 'even' needs an integer, got " + v.type_name());
             return v.as_int() % 2 == 0;
         }},
        {"divisibleby", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             return python_binary(ev, "==", python_binary(ev, "%", v, need(a, "divisibleby")), Value(int64_t{0})).truthy();
         }},
        {"eq", [](Evaluator& ev, const Value& v, const CallArgs& a) { return compare(ev, "==", v, a); }},
        {"ne", [](Evaluator& ev, const Value& v, const CallArgs& a) { return compare(ev, "!=", v, a); }},
        {"lt", [](Evaluator& ev, const Value& v, const CallArgs& a) { return compare(ev, "<", v, a); }},
        {"le", [](Evaluator& ev, const Value& v, const CallArgs& a) { return compare(ev, "<=", v, a); }},
        {"gt", [](Evaluator& ev, const Value& v, const CallArgs& a) { return compare(ev, ">", v, a); }},
        {"ge", [](Evaluator& ev, const Value& v, const CallArgs& a) { return compare(ev, ">=", v, a); }},
        {"in", [](Evaluator& ev, const Value& v, const CallArgs& a) { return compare(ev, "in", v, a); }},
        {"sameas", [](Evaluator&, const Value& v, const CallArgs& a) {
             const Value& o = need(a, "sameas");
             if (v.is_none() || o.is_none()) return v.is_none() && o.is_none();
             if (v.is_bool() || o.is_bool()) return v.is_bool() && o.is_bool() && v.as_bool() == o.as_bool();
             if (v.is_int() && o.is_int()) return v.as_int() == o.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
             if (v.is_list() && o.is_list()) return v.list_ptr() == o.list_ptr();
             if (v.is_dict() && o.is_dict()) return v.dict_ptr() == o.dict_ptr();
             if (v.is_object() && o.is_object()) return v.object_ptr() == o.object_ptr();
             return false;
         }},
        {"lower", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_string() && py_lower(v.as_string()) == v.as_string(); }},
        {"upper", [](Evaluator&, const Value& v, const CallArgs&) { return v.is_string() && py_upper(v.as_string()) == v.as_string(); }},
        {"escaped", [](Evaluator&, const Value&, const CallArgs&) { return false; }},
        {"filter", [](Evaluator& ev, const Value& v, const CallArgs&) { return v.is_string() && ev.has_filter(v.as_string()); }},
        {"test", [](Evaluator& ev, const Value& v, const CallArgs&) { return v.is_string() && ev.has_test(v.as_string()); }},
    };
    return kTable;
}

const TestFn* find_test(const std::string& name) {
    static const std::map<std::string, std::string> kAliases = {
        {"==", "eq"}, {"equalto", "eq"}, {"!=", "ne"}, {"<", "lt"}, {"lessthan", "lt"}, {"<=", "le"},
        {">", "gt"}, {"greaterthan", "gt"}, {">=", "ge"}};
    auto alias = kAliases.find(name);
    auto it = test_table().find(alias == kAliases.end() ? name : alias->second);
    return it == test_table().end() ? nullptr : &it->second;
}

}  // namespace

bool Evaluator::has_test(const std::string& name) const { return find_test(name) != nullptr; }

bool Evaluator::apply_test(const std::string& name, const Value& v, const CallArgs& args) {
    const TestFn* t = find_test(name);
    if (!t) fail("no test named '" + name + "'");
    return (*t)(*this, v, args);
}

}  // namespace kite::tmpl
