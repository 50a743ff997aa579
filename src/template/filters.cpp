// Jinja's built-in filters (the subset chat templates use) with Jinja 3.1's behaviour, plus HF's
// tojson. One table maps each name to its function.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

#include "template/evaluator.h"

namespace kite::tmpl {
namespace {

using FilterFn = std::function<Value(Evaluator&, const Value&, const CallArgs&)>;

const Value* arg(const CallArgs& a, size_t i, const char* name) { return a.get(i, name); }
bool flag(const CallArgs& a, size_t i, const char* name) {
    const Value* v = a.get(i, name);
    return v && v->truthy();
}
int64_t int_or(const CallArgs& a, size_t i, const char* name, int64_t def) {
    const Value* v = a.get(i, name);
    if (!v) return def;
    if (!v->is_number()) fail(std::string("filter argument '") + name + "' must be a number, got " + v->type_name());
    return v->is_float() ? static_cast<int64_t>(v->as_double()) : v->as_int();
}

// Jinja's attribute path for map/sort/...: "a.b.0" walks attributes and integer indices.
Value attribute_path(Evaluator& ev, const Value& v, const Value& attr) {
    if (!attr.is_string()) return ev.get_item(v, attr);
    Value cur = v;
    std::string path = attr.as_string();
    size_t b = 0;
    while (true) {
        size_t dot = path.find('.', b);
        std::string part = path.substr(b, dot == std::string::npos ? std::string::npos : dot - b);
        bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        cur = numeric ? ev.get_item(cur, Value(static_cast<int64_t>(std::stoll(part.substr(0, 18))))) : ev.get_item(cur, Value(part));
        if (dot == std::string::npos) return cur;
        b = dot + 1;
    }
}

Value sort_key(Evaluator& ev, const Value& v, bool case_sensitive, const Value* attribute) {
    Value k = attribute ? attribute_path(ev, v, *attribute) : v;
    if (!case_sensitive && k.is_string()) return Value(py_lower(k.as_string()));
    return k;
}

std::vector<Value> sorted(Evaluator& ev, std::vector<Value> items, bool reverse, bool case_sensitive, const Value* attribute) {
    std::vector<std::pair<Value, Value>> keyed;
    for (auto& v : items) keyed.emplace_back(sort_key(ev, v, case_sensitive, attribute), v);
    // Python's sort is stable; reverse=True keeps equal items in their original order too.
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        return reverse ? py_less(y.first, x.first) : py_less(x.first, y.first);
    });
    std::vector<Value> out;
    for (auto& kv : keyed) out.push_back(std::move(kv.second));
    return out;
}

// select/reject/selectattr/rejectattr: `first_test_arg` is where the test name sits in args.
Value select_common(Evaluator& ev, const Value& seq, const CallArgs& a, bool with_attr, bool keep) {
    size_t idx = 0;
    const Value* attr = nullptr;
    if (with_attr) {
        attr = a.get(0, "attribute");
        if (!attr) fail("selectattr/rejectattr need an attribute name");
        idx = 1;
    }
    std::string test;
    CallArgs test_args;
    if (a.positional.size() > idx) {
        if (!a.positional[idx].is_string()) fail("test name must be a string");
        test = a.positional[idx].as_string();
        test_args.positional.assign(a.positional.begin() + idx + 1, a.positional.end());
        test_args.keyword = a.keyword;
    }
    std::vector<Value> out;
    if (!seq.truthy()) return Value::iterator({});  // Jinja skips a falsy input (None, "", [])
    for (const Value& item : ev.iterate(seq)) {
        Value v = attr ? attribute_path(ev, item, *attr) : item;
        bool ok = test.empty() ? v.truthy() : ev.apply_test(test, v, test_args);
        if (ok == keep) out.push_back(item);
    }
    return Value::iterator(std::move(out));
}

Value round_value(const Value& v, int64_t precision, const std::string& method) {
    if (!v.is_number()) fail("round filter needs a number, got " + v.type_name());
    double x = v.as_double();
    if (method == "common") {
        if (v.is_integral()) return Value(v.as_int());
        // printf rounds the exact binary value half-to-even, as Python's round() does.
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::clamp<int64_t>(precision, 0, 300)), x);
        return Value(std::strtod(buf, nullptr));
    }
    if (method != "floor" && method != "ceil") fail("round method must be 'common', 'ceil' or 'floor'");
    double scale = std::pow(10.0, static_cast<double>(precision));
    double r = method == "floor" ? std::floor(x * scale) / scale : std::ceil(x * scale) / scale;
    return Value(r);
}

Value to_int(const Value& v, const CallArgs& a) {
    Value def = a.get(0, "default") ? *a.get(0, "default") : Value(int64_t{0});
    int64_t base = int_or(a, 1, "base", 10);
    if (v.is_integral()) return Value(v.as_int());
    if (v.is_float()) {
        double d = v.as_double();
        if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return def;
        return Value(static_cast<int64_t>(d));
    }
    if (v.is_string()) {
        std::string s = py_strip(v.as_string(), nullptr, 0);
        errno = 0;
        char* end = nullptr;
        long long r = std::strtoll(s.c_str(), &end, static_cast<int>(base));
        if (!s.empty() && end && *end == '\0' && errno == 0) return Value(static_cast<int64_t>(r));
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
    }
    return def;
}

Value to_float(const Value& v, const CallArgs& a) {
    Value def = a.get(0, "default") ? *a.get(0, "default") : Value(0.0);
    if (v.is_number()) return Value(v.as_double());
    if (v.is_string()) {
        std::string s = py_strip(v.as_string(), nullptr, 0);
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end && *end == '\0') return Value(d);
    }
    return def;
}

Value tojson(Evaluator&, const Value& v, const CallArgs& a) {
    // HF: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    JsonDumpOptions o;
    if (const Value* e = arg(a, 0, "ensure_ascii")) o.ensure_ascii = e->truthy();
    const Value* indent = arg(a, 1, "indent");
    if (indent && !indent->is_none()) {
        if (indent->is_integral()) o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(indent->as_int(), 0, 64)), ' ');
        else if (indent->is_string()) o.indent = indent->as_string();
        else fail("tojson: indent must be an integer or a string, got " + indent->type_name());
        o.item_sep = ",";
    }
    const Value* seps = arg(a, 2, "separators");
    if (seps && !seps->is_none()) {
        if (!seps->is_list() || seps->as_list().items.size() != 2 || !seps->as_list().items[0].is_string() ||
            !seps->as_list().items[1].is_string())
            fail("tojson: separators must be a pair of strings");
        o.item_sep = seps->as_list().items[0].as_string();
        o.key_sep = seps->as_list().items[1].as_string();
    }
    o.sort_keys = flag(a, 3, "sort_keys");
    return Value(json_dumps(v, o));
}

std::string indent_text(const std::string& text, const std::string& ind, bool first, bool blank) {
    std::vector<std::string> lines = py_splitlines(text + "\n", false);
    std::string rv;
    if (blank) {
        for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
    } else {
        rv = lines.empty() ? "" : lines[0];
        for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
    }
    return first ? ind + rv : rv;
}

Value aggregate(Evaluator& ev, const Value& v, const CallArgs& a, bool want_max) {
    std::vector<Value> items = ev.iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    bool cs = flag(a, 0, "case_sensitive");
    const Value* attr = a.get(1, "attribute");
    size_t best = 0;
    Value best_key = sort_key(ev, items[0], cs, attr);
    for (size_t i = 1; i < items.size(); ++i) {
        Value k = sort_key(ev, items[i], cs, attr);
        if (want_max ? py_less(best_key, k) : py_less(k, best_key)) {
            best = i;
            best_key = k;
        }
    }
    return items[best];
}

const std::map<std::string, FilterFn>& filter_table() {
    static const std::map<std::string, FilterFn> kTable = {
        {"tojson", tojson},
        {"trim", [](Evaluator&, const Value& v, const CallArgs& a) {
             const Value* c = arg(a, 0, "chars");
             const std::string* chars = (c && c->is_string()) ? &c->as_string() : nullptr;
             return Value::string_like(v, py_strip(v.str(), chars, 0));
         }},
        {"length", [](Evaluator& ev, const Value& v, const CallArgs&) {
             if (v.is_string()) return Value(static_cast<int64_t>(utf8_length(v.as_string())));
             if (v.is_object()) fail("object of type '" + v.type_name() + "' has no len()");
             if (!v.is_undefined() && !v.is_list() && !v.is_dict()) fail("object of type '" + v.type_name() + "' has no len()");
             return Value(static_cast<int64_t>(ev.iterate(v).size()));
         }},
        {"string", [](Evaluator&, const Value& v, const CallArgs&) { return Value::string_like(v, v.str()); }},
        {"int", [](Evaluator&, const Value& v, const CallArgs& a) { return to_int(v, a); }},
        {"float", [](Evaluator&, const Value& v, const CallArgs& a) { return to_float(v, a); }},
        {"list", [](Evaluator& ev, const Value& v, const CallArgs&) { return Value::list(ev.iterate(v)); }},
        {"join", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             std::string sep = arg(a, 0, "d") ? arg(a, 0, "d")->str() : "";
             const Value* attr = arg(a, 1, "attribute");
             std::string out;
             bool first = true;
             for (const Value& x : ev.iterate(v)) {
                 if (!first) out += sep;
                 first = false;
                 out += (attr ? attribute_path(ev, x, *attr) : x).str();
                 ev.check_size(out.size());
             }
             return Value(std::move(out));
         }},
        {"upper", [](Evaluator&, const Value& v, const CallArgs&) { return Value::string_like(v, py_upper(v.str())); }},
        {"lower", [](Evaluator&, const Value& v, const CallArgs&) { return Value::string_like(v, py_lower(v.str())); }},
        {"capitalize", [](Evaluator&, const Value& v, const CallArgs&) { return Value::string_like(v, py_capitalize(v.str())); }},
        {"title", [](Evaluator&, const Value& v, const CallArgs&) {
             // Jinja splits words at runs of whitespace and -({[<, then capitalizes each piece.
             std::u32string u = utf8_decode(v.str());
             std::u32string out;
             bool start = true;
             for (char32_t c : u) {
                 bool sep = py_isspace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
                 std::string one;
                 utf8_append(one, c);
                 if (sep) {
                     out += c;
                     start = true;
                 } else {
                     out += utf8_decode(start ? py_upper(one) : py_lower(one));
                     start = false;
                 }
             }
             return Value(utf8_encode(out));
         }},
        {"replace", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             CallArgs m;
             for (size_t i = 0; i < a.positional.size(); ++i) m.positional.push_back(i < 2 ? Value(a.positional[i].str()) : a.positional[i]);
             if (const Value* c = a.kw("count")) m.positional.push_back(*c);
             return ev.call(ev.get_attr(Value(v.str()), "replace"), m);  // plain str, as without autoescape
         }},
        {"default", [](Evaluator&, const Value& v, const CallArgs& a) {
             Value def = arg(a, 0, "default_value") ? *arg(a, 0, "default_value") : Value(std::string());
             if (v.is_undefined() || (flag(a, 1, "boolean") && !v.truthy())) return def;
             return v;
         }},
        {"first", [](Evaluator& ev, const Value& v, const CallArgs&) {
             std::vector<Value> items = ev.iterate(v);
             return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
         }},
        {"last", [](Evaluator& ev, const Value& v, const CallArgs&) {
             if (v.is_iterator()) fail("'" + v.type_name() + "' object is not reversible");
             std::vector<Value> items = ev.iterate(v);
             return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
         }},
        {"map", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             std::vector<Value> out;
             const Value* attr = a.kw("attribute");
             if (!v.truthy()) return Value::iterator({});  // Jinja skips a falsy input (None, "", [])
             for (const Value& x : ev.iterate(v)) {
                 if (attr) {
                     Value r = attribute_path(ev, x, *attr);
                     if (r.is_undefined() && a.kw("default")) r = *a.kw("default");
                     out.push_back(r);
                 } else {
                     if (a.positional.empty() || !a.positional[0].is_string()) fail("map() needs a filter name or attribute=");
                     CallArgs rest;
                     rest.positional.assign(a.positional.begin() + 1, a.positional.end());
                     rest.keyword = a.keyword;
                     out.push_back(ev.apply_filter(a.positional[0].as_string(), x, rest));
                 }
             }
             return Value::iterator(std::move(out));
         }},
        {"select", [](Evaluator& ev, const Value& v, const CallArgs& a) { return select_common(ev, v, a, false, true); }},
        {"reject", [](Evaluator& ev, const Value& v, const CallArgs& a) { return select_common(ev, v, a, false, false); }},
        {"selectattr", [](Evaluator& ev, const Value& v, const CallArgs& a) { return select_common(ev, v, a, true, true); }},
        {"rejectattr", [](Evaluator& ev, const Value& v, const CallArgs& a) { return select_common(ev, v, a, true, false); }},
        {"items", [](Evaluator& ev, const Value& v, const CallArgs&) {
             if (v.is_undefined()) return Value::iterator({});
             if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
             return Value::iterator(ev.call(ev.get_attr(v, "items"), {}).as_list().items);
         }},
        {"dictsort", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             if (!v.is_dict()) fail("dictsort needs a mapping, got " + v.type_name());
             bool cs = flag(a, 0, "case_sensitive");
             const Value* by = arg(a, 1, "by");
             bool by_value = by && by->is_string() && by->as_string() == "value";
             std::vector<Value> pairs;
             for (const auto& [k, x] : v.as_dict().items) pairs.push_back(Value::list({k, x}, true));
             Value idx(int64_t{by_value ? 1 : 0});
             return Value::list(sorted(ev, std::move(pairs), flag(a, 2, "reverse"), cs, &idx));
         }},
        {"unique", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             bool cs = flag(a, 0, "case_sensitive");
             const Value* attr = arg(a, 1, "attribute");
             std::vector<Value> out, seen;
             for (const Value& x : ev.iterate(v)) {
                 Value k = sort_key(ev, x, cs, attr);
                 if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return py_equal(s, k); })) continue;
                 seen.push_back(k);
                 out.push_back(x);
             }
             return Value::iterator(std::move(out));
         }},
        {"sort", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             return Value::list(sorted(ev, ev.iterate(v), flag(a, 0, "reverse"), flag(a, 1, "case_sensitive"), arg(a, 2, "attribute")));
         }},
        {"reverse", [](Evaluator& ev, const Value& v, const CallArgs&) {
             if (v.is_string()) {
                 std::u32string u = utf8_decode(v.as_string());
                 std::reverse(u.begin(), u.end());
                 return Value(utf8_encode(u));
             }
             std::vector<Value> items = ev.iterate(v);
             std::reverse(items.begin(), items.end());
             // reversed() of a list or tuple is a lazy iterator; of anything else Jinja builds a list.
             if (v.is_list()) return Value::iterator(std::move(items), v.as_list().tuple ? "reversed" : "list_reverseiterator");
             return Value::list(std::move(items));
         }},
        {"indent", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             const Value* w = arg(a, 0, "width");
             std::string ind = w && w->is_string() ? w->as_string() : std::string(static_cast<size_t>(std::clamp<int64_t>(int_or(a, 0, "width", 4), 0, 1024)), ' ');
             std::string out = indent_text(v.str(), ind, flag(a, 1, "first"), flag(a, 2, "blank"));
             ev.check_size(out.size());
             return Value(std::move(out));
         }},
        {"safe", [](Evaluator&, const Value& v, const CallArgs&) { return Value::markup(v.str()); }},
        {"escape", [](Evaluator&, const Value& v, const CallArgs&) { return markup_escape(v); }},
        {"wordcount", [](Evaluator&, const Value& v, const CallArgs&) {
             int64_t n = 0;
             bool in_word = false;
             for (char32_t c : utf8_decode(v.str())) {
                 bool w = (c >= '0' && c <= '9') || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c > 0x7f && !py_isspace(c));
                 if (w && !in_word) ++n;
                 in_word = w;
             }
             return Value(n);
         }},
        {"abs", [](Evaluator&, const Value& v, const CallArgs&) {
             if (v.is_float()) return Value(std::fabs(v.as_double()));
             if (!v.is_integral()) fail("bad operand type for abs(): '" + v.type_name() + "'");
             if (v.as_int() == INT64_MIN) fail("integer overflow (kite's integers are 64-bit)");
             return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
         }},
        {"round", [](Evaluator&, const Value& v, const CallArgs& a) {
             Value r = round_value(v, int_or(a, 0, "precision", 0), arg(a, 1, "method") ? arg(a, 1, "method")->str() : "common");
             return r;
         }},
        {"batch", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             int64_t n = int_or(a, 0, "linecount", 1);
             if (n <= 0) fail("batch size must be positive");
             const Value* fill = arg(a, 1, "fill_with");
             std::vector<Value> out, cur;
             for (const Value& x : ev.iterate(v)) {
                 cur.push_back(x);
                 if (static_cast<int64_t>(cur.size()) == n) out.push_back(Value::list(std::exchange(cur, {})));
             }
             if (!cur.empty()) {
                 while (fill && static_cast<int64_t>(cur.size()) < n) cur.push_back(*fill);
                 out.push_back(Value::list(std::move(cur)));
             }
             return Value::iterator(std::move(out));
         }},
        {"slice", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             int64_t slices = int_or(a, 0, "slices", 1);
             if (slices <= 0 || slices > 100000) fail("slice count must be between 1 and 100000");
             const Value* fill = arg(a, 1, "fill_with");
             std::vector<Value> seq = ev.iterate(v);
             int64_t len = static_cast<int64_t>(seq.size()), per = len / slices, extra = len % slices, offset = 0;
             std::vector<Value> out;
             for (int64_t i = 0; i < slices; ++i) {
                 int64_t start = offset + i * per;
                 if (i < extra) ++offset;
                 int64_t end = offset + (i + 1) * per;
                 std::vector<Value> part(seq.begin() + start, seq.begin() + end);
                 if (fill && i >= extra) part.push_back(*fill);
                 out.push_back(Value::list(std::move(part)));
             }
             return Value::iterator(std::move(out));
         }},
        {"min", [](Evaluator& ev, const Value& v, const CallArgs& a) { return aggregate(ev, v, a, false); }},
        {"max", [](Evaluator& ev, const Value& v, const CallArgs& a) { return aggregate(ev, v, a, true); }},
        {"sum", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             const Value* attr = arg(a, 0, "attribute");
             Value total = arg(a, 1, "start") ? *arg(a, 1, "start") : Value(int64_t{0});
             for (const Value& x : ev.iterate(v)) total = python_binary(ev, "+", total, attr ? attribute_path(ev, x, *attr) : x);
             return total;
         }},
        {"center", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             CallArgs m;
             m.positional.push_back(Value(int_or(a, 0, "width", 80)));
             return ev.call(ev.get_attr(Value::string_like(v, v.str()), "center"), m);
         }},
        {"format", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             if (!a.keyword.empty() && !a.positional.empty()) fail("format filter: can't mix positional and keyword arguments");
             const Value fmt = Value::string_like(v, v.str());
             if (a.keyword.empty()) return python_binary(ev, "%", fmt, Value::list(a.positional, true));
             std::vector<std::pair<Value, Value>> kw;
             for (const auto& [k, x] : a.keyword) kw.emplace_back(std::piecewise_construct, std::forward_as_tuple(k), std::forward_as_tuple(x));
             const Value mapping = Value::dict(std::move(kw));
             return python_binary(ev, "%", fmt, mapping);
         }},
        {"truncate", [](Evaluator&, const Value& v, const CallArgs& a) {
             std::u32string s = utf8_decode(v.str());
             int64_t length = int_or(a, 0, "length", 255);
             bool killwords = flag(a, 1, "killwords");
             std::u32string end = utf8_decode(arg(a, 2, "end") ? arg(a, 2, "end")->str() : "...");
             int64_t leeway = int_or(a, 3, "leeway", 5);
             if (length < static_cast<int64_t>(end.size())) fail("expected length >= " + std::to_string(end.size()) + ", got " + std::to_string(length));
             if (leeway < 0) fail("expected leeway >= 0");
             if (static_cast<int64_t>(s.size()) <= length + leeway) return Value(utf8_encode(s));
             std::u32string head = s.substr(0, length - end.size());
             if (!killwords) {
                 size_t sp = head.rfind(U' ');
                 if (sp != std::u32string::npos) head = head.substr(0, sp);
             }
             return Value(utf8_encode(head + end));
         }},
        {"attr", [](Evaluator& ev, const Value& v, const CallArgs& a) {
             const Value* n = arg(a, 0, "name");
             if (!n || !n->is_string()) fail("attr filter needs an attribute name");
             if (v.is_dict()) return Value::undefined("'dict object' has no attribute " + py_str_repr(n->as_string()));
             return ev.get_attr(v, n->as_string());
         }},
        {"pprint", [](Evaluator&, const Value& v, const CallArgs&) { return Value(v.repr()); }},
    };
    return kTable;
}

const FilterFn* find_filter(const std::string& name) {
    static const std::map<std::string, std::string> kAliases = {{"d", "default"}, {"e", "escape"}, {"count", "length"}};
    auto alias = kAliases.find(name);
    const std::string& real = alias == kAliases.end() ? name : alias->second;
    auto it = filter_table().find(real);
    return it == filter_table().end() ? nullptr : &it->second;
}

}  // namespace

bool Evaluator::has_filter(const std::string& name) const { return find_filter(name) != nullptr; }

Value Evaluator::apply_filter(const std::string& name, const Value& v, const CallArgs& args) {
    const FilterFn* f = find_filter(name);
    if (!f) fail("no filter named '" + name + "'");
    // Most filters treat Undefined like Jinja does (as "" or empty); these raise on it.
    if (v.is_undefined() && (name == "tojson" || name == "abs" || name == "round" || name == "dictsort" || name == "attr"))
        v.require_defined();
    return (*f)(*this, v, args);
}

}  // namespace kite::tmpl
