// Walks a TemplateAst and renders it: scopes, statements, expressions, calls. Filters, tests, Python
// methods and globals are in their own files but act through this class. Enforces the sandbox limits
// (recursion depth, loop iterations, output size); the sandbox has no file, network or clock access
// beyond strftime_now.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "template/ast.h"
#include "template/value.h"

namespace kite::tmpl {

struct Limits {
    size_t max_output_bytes = 16u << 20;  // also bounds any single string or list built while rendering
    int max_recursion_depth = 256;        // macro calls, recursive loops, caller()
    int64_t max_loop_iterations = 10'000'000;  // summed over all loops of one render (incl. range())
    std::optional<int64_t> fixed_time;    // strftime_now's clock (seconds since epoch, naive local time)
};

// One variable scope. Loops, macros, with-blocks and caller() open a child; `set` writes to the
// innermost scope, so a set inside a for loop is invisible after it (hence Jinja's namespace()).
struct Frame {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Frame> parent;
    const Value* lookup(const std::string& name) const;
};
using FramePtr = std::shared_ptr<Frame>;

class Evaluator {
public:
    explicit Evaluator(Limits limits) : limits_(std::move(limits)) {}
    ~Evaluator();
    Evaluator(const Evaluator&) = delete;
    Evaluator& operator=(const Evaluator&) = delete;

    // Objects that may sit in a reference cycle (macros, namespaces): released when the render ends.
    void track(const ObjectPtr& o) { tracked_.push_back(o); }

    // Renders with `globals` as the outermost scope.
    std::string render(const TemplateAst& ast, std::unordered_map<std::string, Value> globals);

    Value eval(const Expr& e);
    Value call(const Value& callee, const CallArgs& args);
    Value get_attr(const Value& obj, const std::string& name);    // methods.cpp
    Value get_item(const Value& obj, const Value& key);           // methods.cpp
    Value apply_filter(const std::string& name, const Value& v, const CallArgs& args);  // filters.cpp
    bool apply_test(const std::string& name, const Value& v, const CallArgs& args);     // jinja_tests.cpp
    bool has_test(const std::string& name) const;                                       // jinja_tests.cpp
    bool has_filter(const std::string& name) const;                                     // filters.cpp

    // Python iteration: list/tuple items, dict keys, string characters; Undefined is empty.
    std::vector<Value> iterate(const Value& v);
    // Guards every string or list the template builds.
    void check_size(size_t bytes_or_items) const;
    void count_iterations(int64_t n);
    const Limits& limits() const { return limits_; }

    // Macro / caller() / recursive-loop bodies: render `body` in `frame`, return the text.
    std::string render_body_to_string(const Body& body, FramePtr frame);
    Value eval_in(const Expr& e, FramePtr frame);
    // Runs a for loop over `iterable` at loop depth `depth` (1 = outermost), writing to the output.
    void run_for_loop(const Stmt& s, const Value& iterable, int depth);
    // A recursive loop's loop(items): the same loop one level deeper, rendered to a string.
    std::string recurse_loop(const Stmt& s, const Value& iterable, int depth);
    struct DepthGuard {
        DepthGuard(Evaluator* ev);
        ~DepthGuard() { --ev_->depth_; }
        Evaluator* ev_;
    };

private:
    enum class Flow { kNormal, kBreak, kContinue };
    Flow exec_body(const Body& body);
    Flow exec(const Stmt& s);
    void write(const std::string& s);
    void assign(const Expr& target, const Value& v);
    Value make_macro(const Stmt& s);
    CallArgs eval_args(const Expr& e, size_t first);

    Limits limits_;
    FramePtr frame_;
    std::string* out_ = nullptr;
    int depth_ = 0;
    int64_t iterations_ = 0;
    std::vector<ObjectPtr> tracked_;
};

// Python's binary arithmetic and comparison on template values (+ - * / // % ** ~ == < in ...).
Value python_binary(Evaluator& ev, const std::string& op, const Value& a, const Value& b);
// Python's printf-style `str % args` and str.format (subset: s, d, i, r, f, x with flags/width/precision).
std::string python_percent_format(const std::string& fmt, const Value& args);
std::string python_str_format(const std::string& fmt, const CallArgs& args);
// json.dumps(x, ensure_ascii, indent, separators, sort_keys) as HF's tojson calls it.
struct JsonDumpOptions {
    bool ensure_ascii = false;
    std::optional<std::string> indent;  // None: one line
    std::string item_sep = ", ", key_sep = ": ";
    bool sort_keys = false;
};
std::string json_dumps(const Value& v, const JsonDumpOptions& opt);
// Python string helpers shared by methods and filters (case mapping covers Latin, Greek, Cyrillic).
std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);
std::string py_capitalize(const std::string& s);
std::string py_title(const std::string& s);
// chars: nullptr = whitespace. which: -1 left, 1 right, 0 both.
std::string py_strip(const std::string& s, const std::string* chars, int which);
std::vector<Value> py_split(const std::string& s, const Value* sep, int64_t maxsplit, bool from_right);
std::vector<std::string> py_splitlines(const std::string& s, bool keepends);
// target[start:stop:step] for strings, lists and tuples (None = omitted).
Value py_slice(const Value& target, const Value& start, const Value& stop, const Value& step);
// The globals every template gets: range, dict, namespace, raise_exception, strftime_now, ...
void add_builtin_globals(std::unordered_map<std::string, Value>& globals);

}  // namespace kite::tmpl
