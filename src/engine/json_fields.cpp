// Field readers for request bodies; nlohmann exceptions never escape (see json_fields.h).
#include "engine/json_fields.h"

#include <cmath>
#include <cstdio>

namespace kite {

using nlohmann::json;

namespace {

std::string fmt_num(double x) {
    if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 1e15) return std::to_string(static_cast<int64_t>(x));
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%g", x);
    return buf;
}

Status field_error(const char* name, const std::string& what) { return invalid_argument(std::string(name) + ": " + what); }

}  // namespace

std::string type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::string: return "a string";
        case json::value_t::array: return "an array";
        case json::value_t::object: return "an object";
        case json::value_t::number_float: return "a number";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "an integer";
        default: return "an unsupported value";
    }
}

Result<std::optional<int64_t>> get_int(const json& obj, const char* name, int64_t min, int64_t max) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
    int64_t v = 0;
    if (it->is_number_integer()) {
        if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
            return field_error(name, "integer too large");
        v = it->get<int64_t>();
    } else if (it->is_number_float()) {
        const double d = it->get<double>();
        if (d != std::floor(d) || std::fabs(d) > 9e18) return field_error(name, "expected an integer, got " + fmt_num(d));
        v = static_cast<int64_t>(d);
    } else {
        return field_error(name, "expected an integer, got " + type_name(*it));
    }
    if (v < min || v > max)
        return field_error(name, std::to_string(v) + " is out of range [" + std::to_string(min) + ", " +
                                     std::to_string(max) + "]");
    return std::optional<int64_t>(v);
}

Result<std::optional<double>> get_number(const json& obj, const char* name, double min, double max) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<double>();
    if (!it->is_number()) return field_error(name, "expected a number, got " + type_name(*it));
    const double v = it->get<double>();
    if (!std::isfinite(v) || v < min || v > max)
        return field_error(name, fmt_num(v) + " is out of range [" + fmt_num(min) + ", " + fmt_num(max) + "]");
    return std::optional<double>(v);
}

Result<std::optional<bool>> get_bool(const json& obj, const char* name) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<bool>();
    if (!it->is_boolean()) return field_error(name, "expected a boolean, got " + type_name(*it));
    return std::optional<bool>(it->get<bool>());
}

Result<std::optional<std::string>> get_string(const json& obj, const char* name) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<std::string>();
    if (!it->is_string()) return field_error(name, "expected a string, got " + type_name(*it));
    return std::optional<std::string>(it->get<std::string>());
}

Result<std::vector<std::string>> get_string_list(const json& obj, const char* name, size_t max_items) {
    std::vector<std::string> out;
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return out;
    if (it->is_string()) {
        out.push_back(it->get<std::string>());
    } else if (it->is_array()) {
        for (const json& s : *it) {
            if (!s.is_string()) return field_error(name, "expected a string or a list of strings, found " + type_name(s) + " in the list");
            out.push_back(s.get<std::string>());
        }
    } else {
        return field_error(name, "expected a string or a list of strings, got " + type_name(*it));
    }
    if (out.size() > max_items)
        return field_error(name, "at most " + std::to_string(max_items) + " entries, got " + std::to_string(out.size()));
    for (const std::string& s : out)
        if (s.empty()) return field_error(name, "entries must not be empty strings");
    return out;
}

Result<std::vector<int32_t>> get_int_list(const json& obj, const char* name, int64_t min, int64_t max,
                                          size_t max_items) {
    std::vector<int32_t> out;
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return out;
    if (!it->is_array()) return field_error(name, "expected a list of integers, got " + type_name(*it));
    if (it->size() > max_items)
        return field_error(name, "at most " + std::to_string(max_items) + " entries, got " + std::to_string(it->size()));
    for (const json& v : *it) {
        if (!v.is_number_integer()) return field_error(name, "expected a list of integers, found " + type_name(v) + " in the list");
        const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
        if (x < min || x > max)
            return field_error(name, "id " + std::to_string(x) + " is out of range [" + std::to_string(min) + ", " +
                                         std::to_string(max) + "]");
        out.push_back(static_cast<int32_t>(x));
    }
    return out;
}

}  // namespace kite
