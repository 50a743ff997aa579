// Attribute and item lookup as Jinja's sandbox does it (attribute first for `.`, item first for `[]`),
// and the Python str/list/dict methods templates call. Methods that would mutate (list.append,
// dict.update, ...) are refused, as in ImmutableSandboxedEnvironment.
#include <algorithm>
#include <set>

#include "template/evaluator.h"

namespace kite::tmpl {

namespace {

char32_t upper_cp(char32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if ((c >= 0xe0 && c <= 0xfe && c != 0xf7)) return c - 32;
    if (c >= 0x100 && c <= 0x17f && (c & 1) && c != 0x131 && c != 0x149) return c - 1;
    if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return c - 32;
    if (c >= 0x430 && c <= 0x44f) return c - 32;
    if (c >= 0x450 && c <= 0x45f) return c - 80;
    return c;
}

char32_t lower_cp(char32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if ((c >= 0xc0 && c <= 0xde && c != 0xd7)) return c + 32;
    if (c >= 0x100 && c <= 0x17f && !(c & 1) && c != 0x130 && c != 0x138) return c + 1;
    if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 32;
    if (c >= 0x410 && c <= 0x42f) return c + 32;
    if (c >= 0x400 && c <= 0x40f) return c + 80;
    return c;
}

bool is_cased(char32_t c) { return upper_cp(c) != c || lower_cp(c) != c; }

}  // namespace

std::string py_upper(const std::string& s) {
    std::u32string out;
    for (char32_t c : utf8_decode(s)) {
        if (c == 0xdf) out += U"SS";  // the one common full case mapping: German sharp s
        else out += upper_cp(c);
    }
    return utf8_encode(out);
}

std::string py_lower(const std::string& s) {
    std::u32string u = utf8_decode(s);
    for (auto& c : u) c = lower_cp(c);
    return utf8_encode(u);
}

std::string py_capitalize(const std::string& s) {
    std::u32string u = utf8_decode(s);
    for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? upper_cp(u[i]) : lower_cp(u[i]);
    return utf8_encode(u);
}

std::string py_title(const std::string& s) {
    std::u32string u = utf8_decode(s);
    bool prev_cased = false;
    for (auto& c : u) {
        bool cased = is_cased(c);
        c = prev_cased ? lower_cp(c) : upper_cp(c);
        prev_cased = cased;
    }
    return utf8_encode(u);
}

std::string py_strip(const std::string& s, const std::string* chars, int which) {
    std::u32string u = utf8_decode(s);
    std::u32string set = chars ? utf8_decode(*chars) : std::u32string();
    auto strip_it = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : py_isspace(c); };
    size_t b = 0, e = u.size();
    if (which <= 0)
        while (b < e && strip_it(u[b])) ++b;
    if (which >= 0)
        while (e > b && strip_it(u[e - 1])) --e;
    return utf8_encode(u.substr(b, e - b));
}

std::vector<Value> py_split(const std::string& s, const Value* sep, int64_t maxsplit, bool from_right) {
    std::vector<std::string> parts;
    if (sep && !sep->is_none()) {
        if (!sep->is_string()) fail("must be str or None, not " + sep->type_name());
        const std::string& d = sep->as_string();
        if (d.empty()) fail("empty separator");
        if (!from_right) {
            size_t pos = 0;
            while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
                size_t f = s.find(d, pos);
                if (f == std::string::npos) break;
                parts.push_back(s.substr(pos, f - pos));
                pos = f + d.size();
            }
            parts.push_back(s.substr(pos));
        } else {
            size_t end = s.size();
            std::vector<std::string> rev;
            while (maxsplit < 0 || static_cast<int64_t>(rev.size()) < maxsplit) {
                if (end < d.size()) break;
                size_t f = s.rfind(d, end - d.size());
                if (f == std::string::npos) break;
                rev.push_back(s.substr(f + d.size(), end - f - d.size()));
                end = f;
            }
            rev.push_back(s.substr(0, end));
            parts.assign(rev.rbegin(), rev.rend());
        }
    } else {
        // Whitespace split: runs of whitespace separate, leading/trailing ignored.
        std::u32string u = utf8_decode(s);
        if (!from_right) {
            size_t i = 0;
            while (true) {
                while (i < u.size() && py_isspace(u[i])) ++i;
                if (i >= u.size()) break;
                if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
                    size_t e = u.size();
                    while (e > i && py_isspace(u[e - 1])) --e;
                    parts.push_back(utf8_encode(u.substr(i, e - i)));
                    break;
                }
                size_t j = i;
                while (j < u.size() && !py_isspace(u[j])) ++j;
                parts.push_back(utf8_encode(u.substr(i, j - i)));
                i = j;
            }
        } else {
            size_t e = u.size();
            std::vector<std::string> rev;
            while (true) {
                while (e > 0 && py_isspace(u[e - 1])) --e;
                if (e == 0) break;
                if (maxsplit >= 0 && static_cast<int64_t>(rev.size()) >= maxsplit) {
                    size_t b = 0;
                    while (b < e && py_isspace(u[b])) ++b;
                    rev.push_back(utf8_encode(u.substr(b, e - b)));
                    break;
                }
                size_t b = e;
                while (b > 0 && !py_isspace(u[b - 1])) --b;
                rev.push_back(utf8_encode(u.substr(b, e - b)));
                e = b;
            }
            parts.assign(rev.rbegin(), rev.rend());
        }
    }
    std::vector<Value> out;
    for (auto& p : parts) out.emplace_back(std::move(p));
    return out;
}

std::vector<std::string> py_splitlines(const std::string& s, bool keepends) {
    std::u32string u = utf8_decode(s);
    std::vector<std::string> lines;
    size_t b = 0;
    for (size_t i = 0; i < u.size(); ++i) {
        char32_t c = u[i];
        bool brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) || c == 0x85 ||
                   c == 0x2028 || c == 0x2029;
        if (!brk) continue;
        size_t e = i;
        if (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ++i;
        lines.push_back(utf8_encode(u.substr(b, (keepends ? i + 1 : e) - b)));
        b = i + 1;
    }
    if (b < u.size()) lines.push_back(utf8_encode(u.substr(b)));
    return lines;
}

Value py_slice(const Value& target, const Value& start_v, const Value& stop_v, const Value& step_v) {
    target.require_defined();
    auto as_opt = [](const Value& v, const char* what) -> std::optional<int64_t> {
        if (v.is_none()) return std::nullopt;
        if (!v.is_integral()) fail(std::string("slice ") + what + " must be an integer or None, not " + v.type_name());
        return v.as_int();
    };
    std::optional<int64_t> start = as_opt(start_v, "start"), stop = as_opt(stop_v, "stop"), step_o = as_opt(step_v, "step");
    int64_t step = step_o.value_or(1);
    if (step == 0) fail("slice step cannot be zero");
    std::u32string chars;
    const std::vector<Value>* items = nullptr;
    int64_t n;
    if (target.is_string()) {
        chars = utf8_decode(target.as_string());
        n = static_cast<int64_t>(chars.size());
    } else if (target.is_list()) {
        items = &target.as_list().items;
        n = static_cast<int64_t>(items->size());
    } else {
        fail("'" + target.type_name() + "' object is not subscriptable");
    }
    auto clamp = [&](std::optional<int64_t> v, int64_t def) -> int64_t {
        if (!v) return def;
        int64_t x = *v;
        if (x < 0) x += n;
        if (step > 0) return std::clamp<int64_t>(x, 0, n);
        return std::clamp<int64_t>(x, -1, n - 1);
    };
    int64_t b = clamp(start, step > 0 ? 0 : n - 1), e = clamp(stop, step > 0 ? n : -1);
    std::vector<int64_t> idx;
    for (int64_t i = b; step > 0 ? i < e : i > e; i += step) idx.push_back(i);
    if (items) {
        std::vector<Value> out;
        for (int64_t i : idx) out.push_back((*items)[i]);
        return Value::list(std::move(out), target.as_list().tuple);
    }
    std::u32string out;
    for (int64_t i : idx) out += chars[i];
    return Value(utf8_encode(out));
}

namespace {

const std::set<std::string> kStrMethods = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "upper", "lower", "title",
    "capitalize", "replace", "find", "rfind", "index", "count", "join", "format", "splitlines", "isdigit",
    "isalpha", "isalnum", "isspace", "isupper", "islower", "removeprefix", "removesuffix", "zfill", "ljust",
    "rjust", "center", "swapcase", "casefold", "partition", "rpartition", "isnumeric", "isdecimal"};
const std::set<std::string> kDictMethods = {"items", "keys", "values", "get", "copy"};
const std::set<std::string> kListMethods = {"index", "count", "copy"};
const std::set<std::string> kMutating = {"append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear",
                                         "update", "setdefault", "popitem", "add", "discard"};

int64_t int_arg(const CallArgs& a, size_t i, const char* name, int64_t def) {
    const Value* v = a.get(i, name);
    if (!v || v->is_none()) return def;
    if (!v->is_integral()) fail(std::string("'") + v->type_name() + "' object cannot be interpreted as an integer");
    return v->as_int();
}

const std::string& str_arg(const CallArgs& a, size_t i, const char* method) {
    const Value* v = a.get(i, "");
    if (!v) fail(std::string(method) + "() missing a required argument");
    if (!v->is_string()) fail(std::string(method) + "() argument must be str, not " + v->type_name());
    return v->as_string();
}

Value str_method(Evaluator& ev, const std::string& s, const std::string& m, const CallArgs& a) {
    if (m == "strip" || m == "lstrip" || m == "rstrip") {
        const Value* c = a.get(0, "chars");
        if (c && !c->is_none() && !c->is_string()) fail(m + " arg must be None or str");
        const std::string* chars = (c && c->is_string()) ? &c->as_string() : nullptr;
        return Value(py_strip(s, chars, m == "lstrip" ? -1 : m == "rstrip" ? 1 : 0));
    }
    if (m == "split" || m == "rsplit") return Value::list(py_split(s, a.get(0, "sep"), int_arg(a, 1, "maxsplit", -1), m == "rsplit"));
    if (m == "startswith" || m == "endswith") {
        const Value* p = a.get(0, "prefix");
        if (!p) fail(m + "() takes at least 1 argument");
        std::u32string u = utf8_decode(s);
        int64_t n = static_cast<int64_t>(u.size());
        int64_t b = int_arg(a, 1, "start", 0), e = int_arg(a, 2, "end", n);
        if (b < 0) b = std::max<int64_t>(0, b + n);
        if (e < 0) e = std::max<int64_t>(0, e + n);
        e = std::min(e, n);
        std::string sub = b <= e ? utf8_encode(u.substr(b, e - b)) : std::string();
        std::vector<Value> options = p->is_list() && p->as_list().tuple ? p->as_list().items : std::vector<Value>{*p};
        for (const Value& o : options) {
            if (!o.is_string()) fail(m + " first arg must be str or a tuple of str, not " + o.type_name());
            const std::string& x = o.as_string();
            if (b > e) continue;
            if (m == "startswith" ? sub.compare(0, x.size(), x) == 0
                                  : (sub.size() >= x.size() && sub.compare(sub.size() - x.size(), x.size(), x) == 0))
                return Value(true);
        }
        return Value(false);
    }
    if (m == "upper") return Value(py_upper(s));
    if (m == "lower" || m == "casefold") return Value(py_lower(s));
    if (m == "title") return Value(py_title(s));
    if (m == "capitalize") return Value(py_capitalize(s));
    if (m == "swapcase") {
        std::u32string u = utf8_decode(s);
        for (auto& c : u) c = upper_cp(c) != c ? upper_cp(c) : lower_cp(c);
        return Value(utf8_encode(u));
    }
    if (m == "replace") {
        const std::string& from = str_arg(a, 0, "replace");
        const std::string& to = str_arg(a, 1, "replace");
        int64_t count = int_arg(a, 2, "count", -1);
        std::string out;
        if (from.empty()) {
            std::u32string u = utf8_decode(s);
            int64_t done = 0;
            for (size_t i = 0; i <= u.size(); ++i) {
                if (count < 0 || done < count) {
                    out += to;
                    ++done;
                }
                if (i < u.size()) utf8_append(out, u[i]);
                ev.check_size(out.size());
            }
            return Value(std::move(out));
        }
        size_t pos = 0;
        int64_t done = 0;
        while (count < 0 || done < count) {
            size_t f = s.find(from, pos);
            if (f == std::string::npos) break;
            out.append(s, pos, f - pos);
            out += to;
            ev.check_size(out.size());
            pos = f + from.size();
            ++done;
        }
        out.append(s, pos);
        return Value(std::move(out));
    }
    if (m == "find" || m == "rfind" || m == "index") {
        const std::string& x = str_arg(a, 0, m.c_str());
        size_t f = m == "rfind" ? s.rfind(x) : s.find(x);
        if (f == std::string::npos) {
            if (m == "index") fail("substring not found");
            return Value(int64_t{-1});
        }
        return Value(static_cast<int64_t>(utf8_length(s.substr(0, f))));
    }
    if (m == "count") {
        const std::string& x = str_arg(a, 0, "count");
        if (x.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
        int64_t n = 0;
        for (size_t f = s.find(x); f != std::string::npos; f = s.find(x, f + x.size())) ++n;
        return Value(n);
    }
    if (m == "join") {
        const Value* it = a.get(0, "iterable");
        if (!it) fail("join() takes exactly one argument");
        std::string out;
        bool first = true;
        for (const Value& v : ev.iterate(*it)) {
            if (!v.is_string()) fail("sequence item: expected str instance, " + v.type_name() + " found");
            if (!first) out += s;
            first = false;
            out += v.as_string();
            ev.check_size(out.size());
        }
        return Value(std::move(out));
    }
    if (m == "format") return Value(python_str_format(s, a));
    if (m == "splitlines") {
        std::vector<Value> lines;
        for (auto& l : py_splitlines(s, a.get(0, "keepends") && a.get(0, "keepends")->truthy())) lines.emplace_back(std::move(l));
        return Value::list(std::move(lines));
    }
    if (m == "removeprefix" || m == "removesuffix") {
        const std::string& x = str_arg(a, 0, m.c_str());
        if (m == "removeprefix" && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
        if (m == "removesuffix" && !x.empty() && s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
            return Value(s.substr(0, s.size() - x.size()));
        return Value(s);
    }
    if (m == "partition" || m == "rpartition") {
        const std::string& x = str_arg(a, 0, m.c_str());
        if (x.empty()) fail("empty separator");
        size_t f = m == "partition" ? s.find(x) : s.rfind(x);
        if (f == std::string::npos)
            return m == "partition" ? Value::list({Value(s), Value(""), Value("")}, true) : Value::list({Value(""), Value(""), Value(s)}, true);
        return Value::list({Value(s.substr(0, f)), Value(x), Value(s.substr(f + x.size()))}, true);
    }
    if (m == "zfill" || m == "ljust" || m == "rjust" || m == "center") {
        int64_t width = int_arg(a, 0, "width", 0);
        ev.check_size(static_cast<size_t>(std::max<int64_t>(width, 0)));
        std::string fill = m == "zfill" ? "0" : " ";
        if (const Value* f = a.get(1, "fillchar")) fill = f->str();
        int64_t len = static_cast<int64_t>(utf8_length(s));
        if (width <= len) return Value(s);
        int64_t pad = width - len;
        auto rep = [&](int64_t k) {
            std::string r;
            for (int64_t i = 0; i < k; ++i) r += fill;
            return r;
        };
        if (m == "ljust") return Value(s + rep(pad));
        if (m == "rjust") return Value(rep(pad) + s);
        if (m == "zfill") {
            size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
            return Value(s.substr(0, sign) + rep(pad) + s.substr(sign));
        }
        int64_t left = pad / 2 + (pad & width & 1);  // CPython's centering rule
        return Value(rep(left) + s + rep(pad - left));
    }
    // Character-class predicates (ASCII digits/letters; enough for template checks).
    std::u32string u = utf8_decode(s);
    auto all = [&](auto pred) {
        if (u.empty()) return Value(false);
        for (char32_t c : u)
            if (!pred(c)) return Value(false);
        return Value(true);
    };
    if (m == "isdigit" || m == "isnumeric" || m == "isdecimal") return all([](char32_t c) { return c >= '0' && c <= '9'; });
    if (m == "isalpha") return all([](char32_t c) { return is_cased(c) || c > 0x2000; });
    if (m == "isalnum") return all([](char32_t c) { return is_cased(c) || (c >= '0' && c <= '9') || c > 0x2000; });
    if (m == "isspace") return all([](char32_t c) { return py_isspace(c); });
    bool any_cased = false, all_ok = true;
    for (char32_t c : u) {
        if (!is_cased(c)) continue;
        any_cased = true;
        if (m == "isupper" ? lower_cp(c) == c && upper_cp(c) != c : upper_cp(c) == c && lower_cp(c) != c) all_ok = false;
    }
    return Value(any_cased && all_ok);
}

Value dict_method(const Value& d, const std::string& m, const CallArgs& a) {
    const Dict& dict = d.as_dict();
    if (m == "items") {
        std::vector<Value> out;
        for (const auto& [k, v] : dict.items) out.push_back(Value::list({k, v}, true));
        return Value::list(std::move(out));
    }
    if (m == "keys" || m == "values") {
        std::vector<Value> out;
        for (const auto& [k, v] : dict.items) out.push_back(m == "keys" ? k : v);
        return Value::list(std::move(out));
    }
    if (m == "get") {
        const Value* k = a.get(0, "key");
        if (!k) fail("get expected at least 1 argument, got 0");
        const Value* v = dict.find(*k);
        if (v) return *v;
        const Value* def = a.get(1, "default");
        return def ? *def : Value(None{});
    }
    return d;  // copy: values are immutable, so the same dict serves
}

Value list_method(const Value& l, const std::string& m, const CallArgs& a) {
    const auto& items = l.as_list().items;
    if (m == "copy") return l;
    const Value* x = a.get(0, "value");
    if (!x) fail(m + "() takes exactly one argument");
    int64_t n = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!py_equal(items[i], *x)) continue;
        if (m == "index") return Value(static_cast<int64_t>(i));
        ++n;
    }
    if (m == "index") fail(x->repr() + " is not in list");
    return Value(n);
}

// obj.method, waiting for its call.
class BoundMethod : public Object {
public:
    BoundMethod(Value self, std::string name) : self_(std::move(self)), name_(std::move(name)) {}
    std::string type_name() const override { return "builtin_function_or_method"; }
    std::string repr() const override { return "<built-in method " + name_ + " of " + self_.type_name() + " object>"; }
    bool callable() const override { return true; }
    Value call(Evaluator& ev, const CallArgs& args) const override {
        if (self_.is_markup()) return markup_method(ev, args);
        if (self_.is_string()) return str_method(ev, self_.as_string(), name_, args);
        if (self_.is_dict()) return dict_method(self_, name_, args);
        return list_method(self_, name_, args);
    }

private:
    // Markup's methods escape their string arguments and return Markup (lists of Markup for split).
    Value markup_method(Evaluator& ev, const CallArgs& args) const {
        CallArgs escaped;
        for (const Value& v : args.positional) escaped.positional.push_back(v.is_string() ? markup_escape(v) : v);
        for (const auto& [k, v] : args.keyword) escaped.keyword.emplace_back(k, v.is_string() ? markup_escape(v) : v);
        if (name_ == "join") {
            std::vector<Value> items;
            if (!escaped.positional.empty())
                for (const Value& v : ev.iterate(escaped.positional[0])) items.push_back(v.is_string() ? markup_escape(v) : v);
            escaped.positional = {Value::list(std::move(items))};
        }
        Value r = str_method(ev, self_.as_string(), name_, escaped);
        if (r.is_string()) return Value::markup(r.as_string());
        if (!r.is_list()) return r;
        std::vector<Value> items;
        for (const Value& v : r.as_list().items) items.push_back(v.is_string() ? Value::markup(v.as_string()) : v);
        return Value::list(std::move(items), r.as_list().tuple);
    }

    Value self_;
    std::string name_;
};

std::string object_desc(const Value& v) {
    if (v.is_none()) return "'None'";
    return "'" + v.type_name() + " object'";
}

Value missing(const Value& obj, const Value& key) {
    if (key.is_string()) return Value::undefined(object_desc(obj) + " has no attribute " + py_str_repr(key.as_string()));
    return Value::undefined(object_desc(obj) + " has no element " + key.repr());
}

}  // namespace

Value Evaluator::get_attr(const Value& obj, const std::string& name) {
    obj.require_defined();
    bool is_method = false;
    if (obj.is_string() || obj.is_list() || obj.is_dict()) {
        if (kMutating.count(name) && (obj.is_list() || obj.is_dict()))
            return Value::undefined("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe.");
        is_method = obj.is_string() ? kStrMethods.count(name) > 0
                    : obj.is_dict() ? kDictMethods.count(name) > 0
                                    : kListMethods.count(name) > 0;
    }
    if (is_method) return Value(ObjectPtr(std::make_shared<BoundMethod>(obj, name)));
    if (obj.is_object()) {
        if (auto v = obj.as_object().attr(name)) return *v;
        return missing(obj, Value(name));
    }
    if (obj.is_dict()) {
        if (const Value* v = obj.as_dict().find(name)) return *v;
    }
    return missing(obj, Value(name));
}

Value Evaluator::get_item(const Value& obj, const Value& key) {
    obj.require_defined();
    if (obj.is_dict()) {
        if (const Value* v = obj.as_dict().find(key)) return *v;
    } else if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
        int64_t i = key.as_int();
        if (obj.is_list()) {
            auto n = static_cast<int64_t>(obj.as_list().items.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return obj.as_list().items[i];
        } else {
            std::u32string u = utf8_decode(obj.as_string());
            auto n = static_cast<int64_t>(u.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return Value(utf8_encode(u.substr(i, 1)));
        }
        return missing(obj, key);
    }
    if (key.is_string()) {
        Value v = get_attr(obj, key.as_string());
        if (!v.is_undefined()) return v;
    }
    return missing(obj, key);
}

}  // namespace kite::tmpl
