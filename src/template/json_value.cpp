// JSON in and out of template values: nlohmann JSON (object order kept) to Value, and Python's
// json.dumps formatting for HF's tojson (float repr, ensure_ascii, indent, separators, sort_keys).
#include "template/json_value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kite::tmpl {

Value value_from_json(const nlohmann::ordered_json& j) { return value_from_json(j, 0); }

Value value_from_json(const nlohmann::ordered_json& j, int depth) {
    if (depth > kMaxValueDepth) fail("JSON input nested too deeply (more than " + std::to_string(kMaxValueDepth) + " levels)");
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return Value(None{});
        case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            uint64_t u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& x : j) items.push_back(value_from_json(x, depth + 1));
            return Value::list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            std::vector<std::pair<Value, Value>> items;
            items.reserve(j.size());
            for (auto it = j.begin(); it != j.end(); ++it) items.emplace_back(Value(it.key()), value_from_json(it.value(), depth + 1));
            return Value::dict(std::move(items));
        }
        default: return Value(None{});
    }
}

namespace {

void dump_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    for (char32_t c : utf8_decode(s)) {
        char buf[16];
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20 || (ensure_ascii && c > 0x7e)) {
                    if (c >= 0x10000) {  // surrogate pair, as Python writes it
                        char32_t v = c - 0x10000;
                        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xd800 + (v >> 10)),
                                      static_cast<unsigned>(0xdc00 + (v & 0x3ff)));
                    } else {
                        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    }
                    out += buf;
                } else {
                    utf8_append(out, c);
                }
        }
    }
    out += '"';
}

std::string key_string(const Value& k) {
    switch (k.kind()) {
        case Value::Kind::kString: return k.as_string();
        case Value::Kind::kBool: return k.as_bool() ? "true" : "false";
        case Value::Kind::kNone: return "null";
        case Value::Kind::kInt: return std::to_string(k.as_int());
        case Value::Kind::kFloat: return py_float_repr(k.as_double());
        default: fail("keys must be str, int, float, bool or None, not " + k.type_name());
    }
}

void dump(std::string& out, const Value& v, const JsonDumpOptions& o, int level) {
    if (level > 512) fail("tojson: value nested too deeply");
    auto newline = [&](int lvl) {
        out += '\n';
        for (int i = 0; i < lvl; ++i) out += *o.indent;
    };
    switch (v.kind()) {
        case Value::Kind::kNone: out += "null"; return;
        case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; return;
        case Value::Kind::kInt: out += std::to_string(v.as_int()); return;
        case Value::Kind::kFloat: {
            double d = v.as_double();
            if (std::isnan(d)) out += "NaN";
            else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
            else out += py_float_repr(d);
            return;
        }
        case Value::Kind::kString: dump_string(out, v.as_string(), o.ensure_ascii); return;
        case Value::Kind::kList: {
            if (v.is_iterator()) fail("Object of type " + v.type_name() + " is not JSON serializable");
            const auto& items = v.as_list().items;
            if (items.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += o.item_sep;
                if (o.indent) newline(level + 1);
                dump(out, items[i], o, level + 1);
            }
            if (o.indent) newline(level);
            out += ']';
            return;
        }
        case Value::Kind::kDict: {
            std::vector<std::pair<std::string, const Value*>> items;
            for (const auto& [k, x] : v.as_dict().items) items.emplace_back(key_string(k), &x);
            if (items.empty()) {
                out += "{}";
                return;
            }
            if (o.sort_keys) std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
            out += '{';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += o.item_sep;
                if (o.indent) newline(level + 1);
                dump_string(out, items[i].first, o.ensure_ascii);
                out += o.key_sep;
                dump(out, *items[i].second, o, level + 1);
            }
            if (o.indent) newline(level);
            out += '}';
            return;
        }
        case Value::Kind::kUndefined:
        case Value::Kind::kObject: fail("Object of type " + v.type_name() + " is not JSON serializable");
    }
}

}  // namespace

std::string json_dumps(const Value& v, const JsonDumpOptions& opt) {
    std::string out;
    dump(out, v, opt, 0);
    return out;
}

}  // namespace kite::tmpl
