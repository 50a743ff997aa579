// Python's binary operators on template values, with Python's int/float rules (int stays int except
// for /, floor division and modulo take the divisor's sign, ** of ints is an int), and Python's
// `%` / str.format string formatting (the subset templates use).
#include <cmath>
#include <cstdio>

#include "template/evaluator.h"

namespace kite::tmpl {
namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
    fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

void check_overflow(bool overflow) {
    if (overflow) fail("integer overflow (kite's integers are 64-bit)");
}

// The size of `per_copy` repeated n times, refused before anything is allocated: the product is
// computed with an overflow check (2^62 copies of 4 bytes must not wrap to a small number).
void check_repeat_size(Evaluator& ev, size_t per_copy, int64_t n) {
    size_t total = 0;
    if (__builtin_mul_overflow(per_copy, static_cast<size_t>(n), &total))
        fail("repeat count " + std::to_string(n) + " overflows the size of the result");
    ev.check_size(total);
}

Value repeat(Evaluator& ev, const Value& seq, int64_t n) {
    // An empty sequence stays empty: without this, '' * 2**62 would loop 2**62 times (found by fuzz_template).
    const bool empty = seq.is_string() ? seq.as_string().empty() : seq.as_list().items.empty();
    if (n <= 0 || empty) return seq.is_string() ? Value::string_like(seq, std::string()) : Value::list({}, seq.as_list().tuple);
    if (seq.is_string()) {
        check_repeat_size(ev, seq.as_string().size(), n);
        std::string out;
        out.reserve(seq.as_string().size() * static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) out += seq.as_string();
        return Value::string_like(seq, std::move(out));
    }
    // A list is charged what its copies hold: a Value per item plus the bytes of its string items
    // (each copy holds its own strings). Counting items alone let ['a', ''] * 500000 build a
    // million values (found by fuzz_template as a slow render).
    size_t bytes = seq.as_list().items.size() * sizeof(Value);
    for (const Value& v : seq.as_list().items) bytes += v.is_string() ? v.as_string().size() : 0;
    check_repeat_size(ev, bytes, n);
    std::vector<Value> out;
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().items.begin(), seq.as_list().items.end());
    return Value::list(std::move(out), seq.as_list().tuple);
}

bool contains(const Value& item, const Value& container) {
    switch (container.kind()) {
        case Value::Kind::kUndefined: return false;  // Undefined iterates as empty
        case Value::Kind::kString:
            if (!item.is_string())
                fail("'in <string>' requires string as left operand, not " + item.type_name());
            return container.as_string().find(item.as_string()) != std::string::npos;
        case Value::Kind::kList:
            for (const auto& v : container.as_list().items)
                if (py_equal(v, item)) return true;
            return false;
        case Value::Kind::kDict: return container.as_dict().find(item) != nullptr;
        default: fail("argument of type '" + container.type_name() + "' is not iterable");
    }
}

}  // namespace

Value python_binary(Evaluator& ev, const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
        std::string s = a.str() + b.str();
        ev.check_size(s.size());
        return Value(std::move(s));
    }
    if (op == "==") return Value(py_equal(a, b));
    if (op == "!=") return Value(!py_equal(a, b));
    if (op == "in") return Value(contains(a, b));
    if (op == "not in") return Value(!contains(a, b));
    a.require_defined();
    b.require_defined();
    if (op == "<") return Value(py_less(a, b));
    if (op == ">") return Value(py_less(b, a));
    if (op == "<=") return Value(!py_less(b, a));
    if (op == ">=") return Value(!py_less(a, b));

    bool nums = a.is_number() && b.is_number();
    bool ints = a.is_integral() && b.is_integral();
    if (op == "+") {
        if (ints) {
            int64_t r = 0;
            check_overflow(__builtin_add_overflow(a.as_int(), b.as_int(), &r));
            return Value(r);
        }
        if (nums) return Value(a.as_double() + b.as_double());
        if (a.is_string() && b.is_string()) {
            ev.check_size(a.as_string().size() + b.as_string().size());
            if (a.is_markup() || b.is_markup())
                return Value::markup(markup_escape(a).as_string() + markup_escape(b).as_string());
            return Value(a.as_string() + b.as_string());
        }
        if (a.is_list() && b.is_list() && a.as_list().tuple == b.as_list().tuple) {
            std::vector<Value> out = a.as_list().items;
            out.insert(out.end(), b.as_list().items.begin(), b.as_list().items.end());
            ev.check_size(out.size());
            return Value::list(std::move(out), a.as_list().tuple);
        }
        if (a.is_string()) fail("can only concatenate str (not \"" + b.type_name() + "\") to str");
        if (a.is_list() && !a.as_list().tuple) fail("can only concatenate list (not \"" + b.type_name() + "\") to list");
        unsupported("+", a, b);
    }
    if (op == "-") {
        if (ints) {
            int64_t r = 0;
            check_overflow(__builtin_sub_overflow(a.as_int(), b.as_int(), &r));
            return Value(r);
        }
        if (nums) return Value(a.as_double() - b.as_double());
        unsupported("-", a, b);
    }
    if (op == "*") {
        if (ints) {
            int64_t r = 0;
            check_overflow(__builtin_mul_overflow(a.as_int(), b.as_int(), &r));
            return Value(r);
        }
        if (nums) return Value(a.as_double() * b.as_double());
        if ((a.is_string() || a.is_list()) && b.is_integral()) return repeat(ev, a, b.as_int());
        if ((b.is_string() || b.is_list()) && a.is_integral()) return repeat(ev, b, a.as_int());
        fail("can't multiply sequence by non-int of type '" + (a.is_number() ? a : b).type_name() + "'");
    }
    if (op == "/") {
        if (!nums) unsupported("/", a, b);
        if (b.as_double() == 0) fail("division by zero");
        return Value(a.as_double() / b.as_double());
    }
    if (op == "//" || (op == "%" && !a.is_string())) {
        if (!nums) unsupported(op, a, b);
        bool mod = op == "%";
        if (ints) {
            int64_t x = a.as_int(), y = b.as_int();
            if (y == 0) fail(mod ? "integer modulo by zero" : "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) {
                if (!mod) check_overflow(true);
                return Value(int64_t{0});
            }
            int64_t q = x / y, r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) {
                --q;
                r += y;
            }
            return Value(mod ? r : q);
        }
        double x = a.as_double(), y = b.as_double();
        if (y == 0) fail(mod ? "float modulo" : "float floor division by zero");
        if (!mod) return Value(std::floor(x / y));
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value(r);
    }
    if (op == "%") {
        if (!a.is_markup()) return Value(python_percent_format(a.as_string(), b));
        // Markup % args escapes the string arguments.
        auto esc = [](const Value& v) { return v.is_string() || v.is_list() || v.is_dict() ? markup_escape(v) : v; };
        Value args = b;
        if (b.is_list() && b.as_list().tuple) {
            std::vector<Value> items;
            for (const Value& x : b.as_list().items) items.push_back(esc(x));
            args = Value::list(std::move(items), true);
        } else if (b.is_dict()) {
            std::vector<std::pair<Value, Value>> items;
            for (const auto& [k, x] : b.as_dict().items) items.emplace_back(k, esc(x));
            args = Value::dict(std::move(items));
        } else {
            args = esc(b);
        }
        return Value::markup(python_percent_format(a.as_string(), args));
    }
    if (op == "**") {
        if (ints && b.as_int() >= 0) {
            int64_t base = a.as_int(), e = b.as_int(), r = 1;
            while (e > 0) {
                if (e & 1) check_overflow(__builtin_mul_overflow(r, base, &r));
                e >>= 1;
                if (e > 0) check_overflow(__builtin_mul_overflow(base, base, &base));
            }
            return Value(r);
        }
        if (!nums) unsupported("** or pow()", a, b);
        if (a.as_double() == 0 && b.as_double() < 0) fail("0.0 cannot be raised to a negative power");
        return Value(std::pow(a.as_double(), b.as_double()));
    }
    fail("unknown operator '" + op + "'");
}

namespace {

// One conversion of a printf-style spec: flags, width, precision already parsed.
std::string format_one(char conv, const Value& v, const std::string& flags, int width, int precision) {
    std::string body;
    if (conv == 's') {
        body = v.str();
        if (precision >= 0 && static_cast<int>(utf8_length(body)) > precision)
            body = utf8_encode(utf8_decode(body).substr(0, precision));
    } else if (conv == 'r') {
        body = v.repr();
    } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
        if (!v.is_number()) fail("%" + std::string(1, conv) + " format: a real number is required, not " + v.type_name());
        int64_t n = v.is_float() ? static_cast<int64_t>(v.as_double()) : v.as_int();
        char buf[64];
        const char* f = conv == 'x' ? "%llx" : conv == 'X' ? "%llX" : conv == 'o' ? "%llo" : "%lld";
        std::snprintf(buf, sizeof buf, f, static_cast<long long>(n < 0 && conv != 'd' && conv != 'i' ? -n : n));
        body = (n < 0 && conv != 'd' && conv != 'i' ? "-" : "") + std::string(buf);
        if (flags.find('+') != std::string::npos && n >= 0) body = "+" + body;
    } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'E' || conv == 'g' || conv == 'G') {
        if (!v.is_number()) fail("must be real number, not " + v.type_name());
        char fmt[16];
        std::snprintf(fmt, sizeof fmt, "%%%s.%d%c", flags.find('+') != std::string::npos ? "+" : "", precision < 0 ? 6 : precision, conv);
        char buf[512];
        std::snprintf(buf, sizeof buf, fmt, v.as_double());
        body = buf;
    } else {
        fail(std::string("unsupported format character '") + conv + "'");
    }
    int pad = width - static_cast<int>(utf8_length(body));
    if (pad <= 0) return body;
    if (flags.find('-') != std::string::npos) return body + std::string(pad, ' ');
    if (flags.find('0') != std::string::npos && conv != 's' && conv != 'r') {
        size_t sign = (!body.empty() && (body[0] == '-' || body[0] == '+')) ? 1 : 0;
        return body.substr(0, sign) + std::string(pad, '0') + body.substr(sign);
    }
    return std::string(pad, ' ') + body;
}

}  // namespace

std::string python_percent_format(const std::string& fmt, const Value& args) {
    std::vector<Value> list;
    const Dict* mapping = args.is_dict() ? &args.as_dict() : nullptr;
    if (args.is_list() && args.as_list().tuple) list = args.as_list().items;
    else list.push_back(args);
    size_t next_arg = 0;
    std::string out;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        if (++i >= fmt.size()) fail("incomplete format");
        const Value* v = nullptr;
        if (fmt[i] == '(') {
            size_t close = fmt.find(')', i);
            if (close == std::string::npos || !mapping) fail("format requires a mapping");
            v = mapping->find(fmt.substr(i + 1, close - i - 1));
            if (!v) fail("format key '" + fmt.substr(i + 1, close - i - 1) + "' not found");
            i = close + 1;
        }
        std::string flags;
        while (i < fmt.size() && std::string("-+ #0").find(fmt[i]) != std::string::npos) flags += fmt[i++];
        int width = 0, precision = -1;
        while (i < fmt.size() && isdigit(static_cast<unsigned char>(fmt[i]))) width = std::min(width * 10 + (fmt[i++] - '0'), 100000);
        if (i < fmt.size() && fmt[i] == '.') {
            precision = 0;
            ++i;
            while (i < fmt.size() && isdigit(static_cast<unsigned char>(fmt[i]))) precision = std::min(precision * 10 + (fmt[i++] - '0'), 1000);
        }
        if (i >= fmt.size()) fail("incomplete format");
        char conv = fmt[i];
        if (conv == '%') {
            out += '%';
            continue;
        }
        if (!v) {
            if (next_arg >= list.size()) fail("not enough arguments for format string");
            v = &list[next_arg++];
        }
        out += format_one(conv, *v, flags, width, precision);
    }
    if (!mapping && next_arg < list.size()) fail("not all arguments converted during string formatting");
    return out;
}

// Python's format-spec mini-language: [[fill]align][sign][#][0][width][,|_][.precision][type].
static std::string format_spec(const Value& v, const std::string& spec) {
    std::u32string sp = utf8_decode(spec);
    size_t k = 0;
    char32_t fill = ' ';
    char align = 0;
    auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
    if (sp.size() >= 2 && is_align(sp[1])) {
        fill = sp[0];
        align = static_cast<char>(sp[1]);
        k = 2;
    } else if (!sp.empty() && is_align(sp[0])) {
        align = static_cast<char>(sp[0]);
        k = 1;
    }
    char sign = '-';
    if (k < sp.size() && (sp[k] == '+' || sp[k] == '-' || sp[k] == ' ')) sign = static_cast<char>(sp[k++]);
    if (k < sp.size() && sp[k] == '#') ++k;
    if (k < sp.size() && sp[k] == '0') {
        if (!align) {
            fill = '0';
            align = '=';
        }
        ++k;
    }
    int width = 0, precision = -1;
    while (k < sp.size() && sp[k] >= '0' && sp[k] <= '9') width = std::min(width * 10 + static_cast<int>(sp[k++] - '0'), 100000);
    char grouping = 0;
    if (k < sp.size() && (sp[k] == ',' || sp[k] == '_')) grouping = static_cast<char>(sp[k++]);
    if (k < sp.size() && sp[k] == '.') {
        precision = 0;
        ++k;
        while (k < sp.size() && sp[k] >= '0' && sp[k] <= '9') precision = std::min(precision * 10 + static_cast<int>(sp[k++] - '0'), 1000);
    }
    char type = k < sp.size() ? static_cast<char>(sp[k++]) : 0;
    if (k != sp.size()) fail("Invalid format specifier '" + spec + "'");
    std::string body;
    bool numeric = v.is_number();
    if (!numeric || type == 's') {
        if (type && type != 's') fail(std::string("Unknown format code '") + type + "' for object of type '" + v.type_name() + "'");
        body = v.str();
        if (precision >= 0) body = utf8_encode(utf8_decode(body).substr(0, precision));
    } else if (type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b' || (!type && v.is_integral())) {
        if (v.is_float()) fail(std::string("Unknown format code '") + type + "' for object of type 'float'");
        int64_t n = v.as_int();
        uint64_t mag = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
        int base = type == 'x' || type == 'X' ? 16 : type == 'o' ? 8 : type == 'b' ? 2 : 10;
        const char* digits = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        do {
            body.insert(body.begin(), digits[mag % base]);
            mag /= base;
        } while (mag);
        if (grouping && base == 10)
            for (int i = static_cast<int>(body.size()) - 3; i > 0; i -= 3) body.insert(body.begin() + i, grouping);
        if (n < 0) body = "-" + body;
    } else {
        double d = v.as_double();
        char t = type ? type : 'g';
        if (!type && precision < 0) {
            body = py_float_repr(d);
        } else {
            bool percent = t == '%';
            char fmt[16];
            std::snprintf(fmt, sizeof fmt, "%%.%d%c", precision < 0 ? 6 : precision, percent ? 'f' : t);
            char buf[512];
            std::snprintf(buf, sizeof buf, fmt, percent ? d * 100 : d);
            body = buf;
            if (percent) body += "%";
        }
    }
    if (numeric && sign != '-' && !body.empty() && body[0] != '-') body = std::string(1, sign) + body;
    int pad = width - static_cast<int>(utf8_length(body));
    if (pad <= 0) return body;
    if (!align) align = numeric ? '>' : '<';
    std::string f;
    utf8_append(f, fill);
    auto rep = [&](int n) {
        std::string r;
        for (int i = 0; i < n; ++i) r += f;
        return r;
    };
    switch (align) {
        case '<': return body + rep(pad);
        case '^': return rep(pad / 2) + body + rep(pad - pad / 2);
        case '=': {
            size_t sgn = (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
            return body.substr(0, sgn) + rep(pad) + body.substr(sgn);
        }
        default: return rep(pad) + body;
    }
}

std::string python_str_format(const std::string& fmt, const CallArgs& args) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
            out += '}';
            ++i;
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        size_t close = fmt.find('}', i);
        if (close == std::string::npos) fail("Single '{' encountered in format string");
        std::string field = fmt.substr(i + 1, close - i - 1);
        std::string spec;
        if (auto colon = field.find(':'); colon != std::string::npos) {
            spec = field.substr(colon + 1);
            field = field.substr(0, colon);
        }
        const Value* v = nullptr;
        if (field.empty()) {
            if (auto_index >= args.positional.size()) fail("Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
            v = &args.positional[auto_index++];
        } else if (isdigit(static_cast<unsigned char>(field[0]))) {
            size_t idx = std::stoul(field.substr(0, 6));
            if (idx >= args.positional.size()) fail("Replacement index " + field + " out of range for positional args tuple");
            v = &args.positional[idx];
        } else {
            v = args.kw(field);
            if (!v) fail("format: missing keyword argument '" + field + "'");
        }
        out += spec.empty() ? v->str() : format_spec(*v, spec);
        i = close;
    }
    return out;
}

}  // namespace kite::tmpl
