// The global functions every template sees: range, dict, namespace, and Hugging Face's
// raise_exception and strftime_now. lipsum, cycler and joiner are left out (no chat template uses them).
#include <ctime>

#include "template/evaluator.h"

namespace kite::tmpl {
namespace {

using Fn = Value (*)(Evaluator&, const CallArgs&);

class Builtin : public Object {
public:
    Builtin(std::string name, Fn fn) : name_(std::move(name)), fn_(fn) {}
    std::string type_name() const override { return "builtin_function_or_method"; }
    std::string repr() const override { return "<built-in function " + name_ + ">"; }
    bool callable() const override { return true; }
    Value call(Evaluator& ev, const CallArgs& args) const override { return fn_(ev, args); }
    std::optional<Value> attr(const std::string& n) const override;

private:
    std::string name_;
    Fn fn_;
};

// Jinja's namespace(): the one mutable object, so that loops can carry state out.
class Namespace : public Object {
public:
    std::string type_name() const override { return "Namespace"; }
    std::optional<Value> attr(const std::string& n) const override {
        for (const auto& [k, v] : items_) {
            if (k != n) continue;
            // The sandbox hides every attribute starting with '_'.
            if (n[0] == '_') return Value::undefined("access to attribute '" + n + "' of 'Namespace' object is unsafe.");
            return v;
        }
        return std::nullopt;
    }
    bool set_attr(const std::string& n, const Value& v) override {
        for (auto& kv : items_)
            if (kv.first == n) {
                kv.second = v;
                return true;
            }
        items_.emplace_back(n, v);
        return true;
    }
    void release() override { items_.clear(); }
    std::string repr() const override {
        std::string s = "<Namespace {";
        for (size_t i = 0; i < items_.size(); ++i) s += (i ? ", " : "") + py_str_repr(items_[i].first) + ": " + items_[i].second.repr();
        return s + "}>";
    }

private:
    std::vector<std::pair<std::string, Value>> items_;
};

int64_t int_param(const Value& v, const char* what) {
    if (!v.is_integral()) fail(std::string("range() ") + what + " must be an integer, got " + v.type_name());
    return v.as_int();
}

Value fn_range(Evaluator& ev, const CallArgs& a) {
    if (a.positional.empty() || a.positional.size() > 3) fail("range expected 1 to 3 integer arguments");
    int64_t start = 0, stop, step = 1;
    if (a.positional.size() == 1) {
        stop = int_param(a.positional[0], "stop");
    } else {
        start = int_param(a.positional[0], "start");
        stop = int_param(a.positional[1], "stop");
        if (a.positional.size() == 3) step = int_param(a.positional[2], "step");
    }
    if (step == 0) fail("range() arg 3 must not be zero");
    std::vector<Value> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        ev.count_iterations(1);  // a huge range is refused like a huge loop
        out.emplace_back(i);
        if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
    }
    return Value::list(std::move(out));
}

void add_pairs(Evaluator& ev, const Value& src, std::vector<std::pair<Value, Value>>& items) {
    auto put = [&](const Value& k, const Value& v) {
        for (auto& kv : items)
            if (py_equal(kv.first, k)) {
                kv.second = v;
                return;
            }
        items.emplace_back(k, v);
    };
    if (src.is_dict()) {
        for (const auto& [k, v] : src.as_dict().items) put(k, v);
        return;
    }
    for (const Value& pair : ev.iterate(src)) {
        std::vector<Value> kv = ev.iterate(pair);
        if (kv.size() != 2) fail("dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required");
        put(kv[0], kv[1]);
    }
}

Value fn_dict(Evaluator& ev, const CallArgs& a) {
    std::vector<std::pair<Value, Value>> items;
    if (a.positional.size() > 1) fail("dict expected at most 1 argument, got " + std::to_string(a.positional.size()));
    if (!a.positional.empty()) add_pairs(ev, a.positional[0], items);
    for (const auto& [k, v] : a.keyword) {
        std::vector<std::pair<Value, Value>> one = {{Value(k), v}};
        add_pairs(ev, Value::dict(std::move(one)), items);
    }
    return Value::dict(std::move(items));
}

Value fn_fromkeys(Evaluator& ev, const CallArgs& a) {
    if (a.positional.empty()) fail("fromkeys expected at least 1 argument");
    Value fill = a.positional.size() > 1 ? a.positional[1] : Value(None{});
    std::vector<std::pair<Value, Value>> items;
    for (const Value& k : ev.iterate(a.positional[0])) {
        bool dup = false;
        for (const auto& kv : items) dup = dup || py_equal(kv.first, k);
        if (!dup) items.emplace_back(k, fill);
    }
    return Value::dict(std::move(items));
}

Value fn_namespace(Evaluator& ev, const CallArgs& a) {
    auto ns = std::make_shared<Namespace>();
    ev.track(ns);
    for (const Value& p : a.positional) {
        if (!p.is_dict()) fail("namespace() positional argument must be a mapping, got " + p.type_name());
        for (const auto& [k, v] : p.as_dict().items) ns->set_attr(k.str(), v);
    }
    for (const auto& [k, v] : a.keyword) ns->set_attr(k, v);
    return Value(ObjectPtr(ns));
}

Value fn_raise_exception(Evaluator&, const CallArgs& a) {
    const Value* m = a.get(0, "message");
    throw TemplateError{m ? m->str() : std::string(), true};
}

Value fn_strftime_now(Evaluator& ev, const CallArgs& a) {
    const Value* f = a.get(0, "format");
    if (!f || !f->is_string()) fail("strftime_now() needs a format string");
    std::tm tm{};
    if (ev.limits().fixed_time) {
        // The pinned time is a naive wall-clock time: render it without any time-zone shift.
        std::time_t t = static_cast<std::time_t>(*ev.limits().fixed_time);
        gmtime_r(&t, &tm);
    } else {
        std::time_t t = std::time(nullptr);
        localtime_r(&t, &tm);
    }
    const std::string& fmt = f->as_string();
    if (fmt.empty()) return Value(std::string());
    for (size_t cap = 256; cap <= (1u << 20); cap *= 4) {
        std::string buf(cap, '\0');
        size_t n = std::strftime(buf.data(), cap, fmt.c_str(), &tm);
        if (n > 0) return Value(buf.substr(0, n));
    }
    return Value(std::string());
}

std::optional<Value> Builtin::attr(const std::string& n) const {
    if (name_ == "dict" && n == "fromkeys") return Value(ObjectPtr(std::make_shared<Builtin>("fromkeys", fn_fromkeys)));
    return std::nullopt;
}

}  // namespace

void add_builtin_globals(std::unordered_map<std::string, Value>& globals) {
    auto add = [&](const char* name, Fn fn) { globals[name] = Value(ObjectPtr(std::make_shared<Builtin>(name, fn))); };
    add("range", fn_range);
    add("dict", fn_dict);
    add("namespace", fn_namespace);
    add("raise_exception", fn_raise_exception);
    add("strftime_now", fn_strftime_now);
}

}  // namespace kite::tmpl
