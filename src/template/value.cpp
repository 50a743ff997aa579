// Python semantics of template values: truthiness, str()/repr() (incl. float repr), ==, <, UTF-8.
#include "template/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace kite::tmpl {

void fail(std::string message) { throw TemplateError{std::move(message), false}; }

int nesting_depth(const Value& v) {
    if (v.kind() == Value::Kind::kList) return v.as_list().depth;
    if (v.kind() == Value::Kind::kDict) return v.as_dict().depth;
    return 0;
}

static int container_depth(const std::vector<Value>& items) {
    int d = 0;
    for (const Value& v : items) d = std::max(d, nesting_depth(v));
    if (d + 1 > kMaxValueDepth) fail("value nested too deeply (more than " + std::to_string(kMaxValueDepth) + " levels of lists/dicts)");
    return d + 1;
}

Value Value::list(std::vector<Value> items, bool tuple) {
    auto l = std::make_shared<List>();
    l->depth = container_depth(items);
    l->items = std::move(items);
    l->tuple = tuple;
    return Value(ListPtr(std::move(l)));
}

Value Value::iterator(std::vector<Value> items, std::string type) {
    auto l = std::make_shared<List>();
    l->depth = container_depth(items);
    l->items = std::move(items);
    l->iterator_type = std::move(type);
    return Value(ListPtr(std::move(l)));
}

Value Value::dict(std::vector<std::pair<Value, Value>> items) {
    auto d = std::make_shared<Dict>();
    int depth = 0;
    for (const auto& kv : items) depth = std::max({depth, nesting_depth(kv.first), nesting_depth(kv.second)});
    if (depth + 1 > kMaxValueDepth) fail("value nested too deeply (more than " + std::to_string(kMaxValueDepth) + " levels of lists/dicts)");
    d->depth = depth + 1;
    d->items = std::move(items);
    return Value(DictPtr(std::move(d)));
}

const Value* Dict::find(const Value& key) const {
    for (const auto& kv : items)
        if (py_equal(kv.first, key)) return &kv.second;
    return nullptr;
}

const Value* Dict::find(const std::string& key) const {
    for (const auto& kv : items)
        if (kv.first.is_string() && kv.first.as_string() == key) return &kv.second;
    return nullptr;
}

const Value* CallArgs::kw(const std::string& name) const {
    for (const auto& kv : keyword)
        if (kv.first == name) return &kv.second;
    return nullptr;
}

const Value* CallArgs::get(size_t i, const std::string& name) const {
    if (i < positional.size()) return &positional[i];
    return kw(name);
}

Value Object::call(Evaluator&, const CallArgs&) const { fail("'" + type_name() + "' object is not callable"); }

const Value& Value::require_defined() const {
    if (is_undefined()) fail(undefined_hint().empty() ? "value is undefined" : undefined_hint());
    return *this;
}

bool Value::truthy() const {
    switch (kind()) {
        case Kind::kUndefined: return false;
        case Kind::kNone: return false;
        case Kind::kBool: return as_bool();
        case Kind::kInt: return as_int() != 0;
        case Kind::kFloat: return as_double() != 0.0;
        case Kind::kString: return !as_string().empty();
        case Kind::kList: return is_iterator() || !as_list().items.empty();
        case Kind::kDict: return !as_dict().items.empty();
        case Kind::kObject: return true;
    }
    return false;
}

std::string Value::type_name() const {
    switch (kind()) {
        case Kind::kUndefined: return "Undefined";
        case Kind::kNone: return "NoneType";
        case Kind::kBool: return "bool";
        case Kind::kInt: return "int";
        case Kind::kFloat: return "float";
        case Kind::kString: return "str";
        case Kind::kList: return is_iterator() ? as_list().iterator_type : as_list().tuple ? "tuple" : "list";
        case Kind::kDict: return "dict";
        case Kind::kObject: return as_object().type_name();
    }
    return "object";
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

Value markup_escape(const Value& v) {
    if (v.is_markup()) return v;
    return Value::markup(html_escape(v.str()));
}

std::string py_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    // Shortest round-trip digits, then Python's layout: fixed for 1e-4 <= |d| < 1e16, else d.ddde+XX.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    size_t epos = sci.find('e');
    std::string mant = sci.substr(0, epos);
    int exp = std::stoi(sci.substr(epos + 1));
    bool neg = mant[0] == '-';
    if (neg) mant.erase(0, 1);
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    std::string out = neg ? "-" : "";
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out += "0." + std::string(-exp - 1, '0') + digits;
        } else if (static_cast<int>(digits.size()) <= exp + 1) {
            out += digits + std::string(exp + 1 - digits.size(), '0') + ".0";
        } else {
            out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + ebuf;
}

bool py_isspace(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static bool py_isprintable(char32_t c) {
    if (c < 0x20 || c == 0x7f) return false;
    if (c >= 0x80 && c < 0xa0) return false;
    if (c == 0xad) return false;
    if (c >= 0xd800 && c < 0xe000) return false;
    if (py_isspace(c) && c != ' ') return false;
    if (c >= 0x200b && c <= 0x200f) return false;
    if (c >= 0x2060 && c <= 0x2064) return false;
    if (c == 0xfeff) return false;
    return true;
}

std::string py_str_repr(const std::string& s) {
    bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
    char q = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, q);
    for (char32_t c : utf8_decode(s)) {
        if (c == static_cast<char32_t>(q) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (!py_isprintable(c)) {
            char buf[16];
            if (c < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
            else if (c < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
            out += buf;
        } else {
            utf8_append(out, c);
        }
    }
    out += q;
    return out;
}

std::string Value::str() const {
    switch (kind()) {
        case Kind::kUndefined: return "";
        case Kind::kString: return as_string();
        default: return repr();
    }
}

std::string Value::repr() const {
    switch (kind()) {
        case Kind::kUndefined: return "Undefined";
        case Kind::kNone: return "None";
        case Kind::kBool: return as_bool() ? "True" : "False";
        case Kind::kInt: return std::to_string(as_int());
        case Kind::kFloat: return py_float_repr(as_double());
        case Kind::kString: return py_str_repr(as_string());
        case Kind::kList: {
            const List& l = as_list();
            if (is_iterator()) return "<" + l.iterator_type + " object>";
            std::string out = l.tuple ? "(" : "[";
            for (size_t i = 0; i < l.items.size(); ++i) {
                if (i) out += ", ";
                out += l.items[i].repr();
            }
            if (l.tuple && l.items.size() == 1) out += ",";
            return out + (l.tuple ? ")" : "]");
        }
        case Kind::kDict: {
            std::string out = "{";
            bool first = true;
            for (const auto& [k, v] : as_dict().items) {
                if (!first) out += ", ";
                first = false;
                out += k.repr() + ": " + v.repr();
            }
            return out + "}";
        }
        case Kind::kObject: return as_object().repr();
    }
    return "";
}

bool py_equal(const Value& a, const Value& b) {
    using K = Value::Kind;
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case K::kUndefined:
        case K::kNone: return true;
        case K::kString: return a.as_string() == b.as_string();
        case K::kList: {
            if (a.is_iterator() || b.is_iterator()) return a.list_ptr() == b.list_ptr();
            const auto& x = a.as_list();
            const auto& y = b.as_list();
            if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
            for (size_t i = 0; i < x.items.size(); ++i)
                if (!py_equal(x.items[i], y.items[i])) return false;
            return true;
        }
        case K::kDict: {
            const auto& x = a.as_dict();
            const auto& y = b.as_dict();
            if (x.items.size() != y.items.size()) return false;
            for (const auto& [k, v] : x.items) {
                const Value* o = y.find(k);
                if (!o || !py_equal(v, *o)) return false;
            }
            return true;
        }
        case K::kObject: return a.object_ptr() == b.object_ptr();
        default: return false;
    }
}

bool py_less(const Value& a, const Value& b) {
    a.require_defined();
    b.require_defined();
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
        return a.as_int() < b.as_int();
    }
    if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order = code point order
    if (a.is_list() && b.is_list()) {
        const auto& x = a.as_list().items;
        const auto& y = b.as_list().items;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (py_equal(x[i], y[i])) continue;
            return py_less(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    fail("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

std::u32string utf8_decode(const std::string& s) {
    std::u32string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > s.size()) {
            out += 0xfffd;  // invalid byte: replacement character, as Python's errors='replace'
            ++i;
            continue;
        }
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
        bool ok = true;
        for (int k = 1; k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 2) ok = false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (!ok) {
            out += 0xfffd;
            ++i;
            continue;
        }
        out += cp;
        i += len;
    }
    return out;
}

void utf8_append(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xc0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xe0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (c & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (c & 0x3f));
    }
}

std::string utf8_encode(const std::u32string& s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) utf8_append(out, c);
    return out;
}

size_t utf8_length(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xc0) != 0x80) ++n;
    return n;
}

}  // namespace kite::tmpl
