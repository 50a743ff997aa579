#include "cli/flags.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace kite::cli {

void Flags::take_section(const std::string& name) {
    if (pending_section_.empty()) return;
    sections_[name] = pending_section_;
    pending_section_.clear();
}

void Flags::add(const std::string& name, const std::string& value_name, const std::string& help,
                const std::string& env, bool repeated) {
    take_section(name);
    order_.push_back(name);
    specs_[name] = Spec{value_name, help, env, false, repeated};
}

void Flags::add_switch(const std::string& name, const std::string& help, const std::string& env) {
    take_section(name);
    order_.push_back(name);
    specs_[name] = Spec{"", help, env, true, false};
}

void Flags::section(const std::string& title) { pending_section_ = title; }

std::string Flags::help() const {
    std::string s = "Usage: kite " + command_ + " " + usage_ + "\n\nFlags:\n";
    for (const std::string& n : order_) {
        const Spec& sp = specs_.at(n);
        if (auto sec = sections_.find(n); sec != sections_.end()) s += "\n" + sec->second + ":\n";
        std::string left = "  --" + n + (sp.is_switch ? "" : " " + sp.value_name);
        if (left.size() < 34) left.resize(34, ' ');
        else left += "\n" + std::string(34, ' ');
        s += left + sp.help;
        if (!sp.env.empty()) s += " [env " + sp.env + "]";
        if (sp.repeated) s += " (repeatable)";
        s += "\n";
    }
    s += "  --help                          show this help\n";
    return s;
}

Result<bool> Flags::parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(help().c_str(), stdout);
            return false;
        }
        if (arg.rfind("--", 0) != 0) return invalid_argument("unexpected argument '" + arg + "' (flags start with --; see --help)");
        std::string name = arg.substr(2), value;
        bool has_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        auto it = specs_.find(name);
        if (it == specs_.end()) return invalid_argument("unknown flag --" + name + " (see kite " + command_ + " --help)");
        if (it->second.is_switch) {
            if (has_value && value != "true" && value != "false" && value != "1" && value != "0")
                return invalid_argument("--" + name + " is a switch: expected no value, true or false, got '" + value + "'");
            values_[name] = {has_value ? value : "true"};
            continue;
        }
        if (!has_value) {
            if (i + 1 >= argc) return invalid_argument("--" + name + " needs a value (" + it->second.value_name + ")");
            value = argv[++i];
        }
        if (!it->second.repeated && values_.count(name)) return invalid_argument("--" + name + " given twice");
        values_[name].push_back(value);
    }
    for (const auto& [name, spec] : specs_) {
        if (values_.count(name) || spec.env.empty()) continue;
        if (const char* e = std::getenv(spec.env.c_str()); e != nullptr && *e) {
            values_[name] = {e};
            from_env_.insert(name);
        }
    }
    return true;
}

bool Flags::has(const std::string& name) const { return values_.count(name) > 0; }

std::optional<std::string> Flags::get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> Flags::get_all(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Flags::get_or(const std::string& name, const std::string& fallback) const {
    auto v = get(name);
    return v ? *v : fallback;
}

Result<int64_t> Flags::get_int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const {
    auto v = get(name);
    if (!v) return fallback;
    errno = 0;
    char* end = nullptr;
    const long long x = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || errno == ERANGE)
        return invalid_argument("--" + name + ": expected an integer, got '" + *v + "'");
    if (x < min || x > max)
        return invalid_argument("--" + name + " = " + *v + " is out of range [" + std::to_string(min) + ", " +
                                std::to_string(max) + "]");
    return static_cast<int64_t>(x);
}

Result<double> Flags::get_double(const std::string& name, double fallback, double min, double max) const {
    auto v = get(name);
    if (!v) return fallback;
    char* end = nullptr;
    const double x = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0' || x != x)
        return invalid_argument("--" + name + ": expected a number, got '" + *v + "'");
    if (x < min || x > max)
        return invalid_argument("--" + name + " = " + *v + " is out of range [" + std::to_string(min) + ", " +
                                std::to_string(max) + "]");
    return x;
}

bool Flags::get_switch(const std::string& name) const {
    auto v = get(name);
    return v && (*v == "true" || *v == "1");
}

int fail(const std::string& command, const Status& status) {
    std::fprintf(stderr, "kite %s: %s\n", command.c_str(), status.message().c_str());
    return 1;
}

}  // namespace kite::cli
