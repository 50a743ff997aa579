// Statements and expressions: scoping, for loops (loop object, else, filters, recursion), set,
// macros and call blocks, filter blocks, and expression evaluation. Operators are in operators.cpp,
// attribute/method lookup in methods.cpp.
#include "template/evaluator.h"

namespace kite::tmpl {

const Value* Frame::lookup(const std::string& name) const {
    for (const Frame* f = this; f; f = f->parent.get()) {
        auto it = f->vars.find(name);
        if (it != f->vars.end()) return &it->second;
    }
    return nullptr;
}

Evaluator::~Evaluator() {
    for (const ObjectPtr& o : tracked_) o->release();
}

Evaluator::DepthGuard::DepthGuard(Evaluator* ev) : ev_(ev) {
    if (++ev_->depth_ > ev_->limits_.max_recursion_depth)
        fail("maximum recursion depth exceeded (" + std::to_string(ev_->limits_.max_recursion_depth) + " nested calls)");
}

void Evaluator::check_size(size_t n) const {
    if (n > limits_.max_output_bytes)
        fail("template output too large (limit " + std::to_string(limits_.max_output_bytes) + " bytes)");
}

void Evaluator::count_iterations(int64_t n) {
    iterations_ += n;
    if (iterations_ > limits_.max_loop_iterations)
        fail("too many loop iterations (limit " + std::to_string(limits_.max_loop_iterations) + ")");
}

void Evaluator::write(const std::string& s) {
    out_->append(s);
    check_size(out_->size());
}

std::string Evaluator::render(const TemplateAst& ast, std::unordered_map<std::string, Value> globals) {
    auto g = std::make_shared<Frame>();
    g->vars = std::move(globals);
    frame_ = std::make_shared<Frame>();
    frame_->parent = g;
    std::string out;
    out_ = &out;
    Flow f = exec_body(ast.body);
    if (f != Flow::kNormal) fail("'break' or 'continue' outside of a for loop");
    return out;
}

std::string Evaluator::render_body_to_string(const Body& body, FramePtr frame) {
    std::string out;
    std::string* saved_out = out_;
    FramePtr saved_frame = frame_;
    out_ = &out;
    frame_ = std::move(frame);
    struct Restore {
        Evaluator* ev;
        std::string* o;
        FramePtr f;
        ~Restore() {
            ev->out_ = o;
            ev->frame_ = f;
        }
    } restore{this, saved_out, saved_frame};
    if (exec_body(body) != Flow::kNormal) fail("'break' or 'continue' outside of a for loop");
    return out;
}

Evaluator::Flow Evaluator::exec_body(const Body& body) {
    for (const auto& s : body) {
        Flow f = exec(*s);
        if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
}

std::vector<Value> Evaluator::iterate(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined: return {};
        case Value::Kind::kList: return v.as_list().items;
        case Value::Kind::kDict: {
            std::vector<Value> keys;
            for (const auto& kv : v.as_dict().items) keys.push_back(kv.first);
            return keys;
        }
        case Value::Kind::kString: {
            std::vector<Value> chars;
            for (char32_t c : utf8_decode(v.as_string())) {
                std::string s;
                utf8_append(s, c);
                chars.emplace_back(std::move(s));
            }
            return chars;
        }
        default: fail("'" + v.type_name() + "' object is not iterable");
    }
}

void Evaluator::assign(const Expr& target, const Value& v) {
    if (target.kind == Expr::Kind::kName) {
        frame_->vars[target.name] = v;
        return;
    }
    if (target.kind == Expr::Kind::kAttr) {
        const Value* ns = frame_->lookup(target.items[0]->name);
        if (!ns || !ns->is_object() || !ns->as_object().set_attr(target.name, v))
            fail("cannot assign attribute '" + target.name + "' on non-namespace object '" + target.items[0]->name + "'");
        return;
    }
    std::vector<Value> items = iterate(v);
    if (v.is_dict() || v.is_undefined()) fail("cannot unpack non-sequence " + v.type_name());
    if (items.size() != target.items.size())
        fail("cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(target.items.size()) + " names");
    for (size_t i = 0; i < items.size(); ++i) assign(*target.items[i], items[i]);
}

Value Evaluator::eval_in(const Expr& e, FramePtr frame) {
    FramePtr saved = frame_;
    frame_ = std::move(frame);
    struct Restore {
        Evaluator* ev;
        FramePtr f;
        ~Restore() { ev->frame_ = f; }
    } restore{this, saved};
    return eval(e);
}

namespace {

// Jinja's `loop` variable for one iteration of a for loop.
class LoopObject : public Object {
public:
    LoopObject(std::shared_ptr<const std::vector<Value>> items, size_t index, int depth, const Stmt* stmt)
        : items_(std::move(items)), index_(index), depth_(depth), stmt_(stmt) {}
    std::string type_name() const override { return "LoopContext"; }
    std::optional<Value> attr(const std::string& n) const override {
        auto len = static_cast<int64_t>(items_->size());
        auto i = static_cast<int64_t>(index_);
        if (n == "index") return Value(i + 1);
        if (n == "index0") return Value(i);
        if (n == "revindex") return Value(len - i);
        if (n == "revindex0") return Value(len - i - 1);
        if (n == "first") return Value(i == 0);
        if (n == "last") return Value(i == len - 1);
        if (n == "length") return Value(len);
        if (n == "depth") return Value(int64_t{depth_});
        if (n == "depth0") return Value(int64_t{depth_ - 1});
        if (n == "previtem") return i > 0 ? (*items_)[index_ - 1] : Value::undefined("there is no previous item");
        if (n == "nextitem") return i + 1 < len ? (*items_)[index_ + 1] : Value::undefined("there is no next item");
        if (n == "cycle") return Value(ObjectPtr(std::make_shared<Cycle>(index_)));
        return std::nullopt;
    }
    bool callable() const override { return true; }
    Value call(Evaluator& ev, const CallArgs& args) const override {
        if (!stmt_->recursive) fail("the loop must be marked 'recursive' to call loop()");
        if (args.positional.size() != 1) fail("loop() takes exactly one argument (the items to recurse into)");
        return Value(ev.recurse_loop(*stmt_, args.positional[0], depth_ + 1));
    }

private:
    struct Cycle : Object {
        explicit Cycle(size_t i) : i_(i) {}
        std::string type_name() const override { return "method"; }
        bool callable() const override { return true; }
        Value call(Evaluator&, const CallArgs& args) const override {
            if (args.positional.empty()) fail("loop.cycle() needs at least one argument");
            return args.positional[i_ % args.positional.size()];
        }
        size_t i_;
    };
    std::shared_ptr<const std::vector<Value>> items_;
    size_t index_;
    int depth_;
    const Stmt* stmt_;
};

// A {% macro %}, or the caller() of a {% call %} block: renders its body in a fresh scope whose
// parent is the scope where it was defined.
class Macro : public Object {
public:
    Macro(std::string name, const std::vector<MacroParam>* params, const Body* body, FramePtr closure,
          std::optional<Value> caller)
        : name_(std::move(name)), params_(params), body_(body), closure_(std::move(closure)), caller_(std::move(caller)) {}
    std::string type_name() const override { return "Macro"; }
    bool callable() const override { return true; }
    std::string repr() const override { return "<Macro '" + name_ + "'>"; }
    std::optional<Value> attr(const std::string& n) const override {
        if (n == "name") return Value(name_);
        return std::nullopt;
    }
    void set_caller(Value caller) { caller_ = std::move(caller); }
    void release() override {
        closure_.reset();
        caller_.reset();
    }
    Value call(Evaluator& ev, const CallArgs& args) const override {
        Evaluator::DepthGuard g(&ev);
        auto frame = std::make_shared<Frame>();
        frame->parent = closure_;
        const auto& params = *params_;
        std::vector<Value> varargs;
        for (size_t i = 0; i < args.positional.size(); ++i) {
            if (i < params.size()) frame->vars[params[i].name] = args.positional[i];
            else varargs.push_back(args.positional[i]);
        }
        std::vector<std::pair<Value, Value>> kwargs;
        for (const auto& [k, v] : args.keyword) {
            bool is_param = false;
            for (size_t i = 0; i < params.size(); ++i) {
                if (params[i].name != k) continue;
                if (i < args.positional.size()) fail("macro '" + name_ + "' got multiple values for argument '" + k + "'");
                is_param = true;
            }
            if (is_param) frame->vars[k] = v;
            else kwargs.emplace_back(Value(k), v);
        }
        if (caller_) frame->vars["caller"] = *caller_;
        frame->vars["varargs"] = Value::list(std::move(varargs), true);
        frame->vars["kwargs"] = Value::dict(std::move(kwargs));
        // Defaults are evaluated in the macro's own scope, left to right, as Jinja does.
        for (const auto& p : params) {
            if (frame->vars.count(p.name)) continue;
            frame->vars[p.name] = p.default_value ? ev.eval_in(*p.default_value, frame)
                                                  : Value::undefined("parameter '" + p.name + "' was not provided");
        }
        return Value(ev.render_body_to_string(*body_, frame));
    }

private:
    std::string name_;
    const std::vector<MacroParam>* params_;
    const Body* body_;
    FramePtr closure_;
    std::optional<Value> caller_;
};

}  // namespace

void Evaluator::run_for_loop(const Stmt& s, const Value& iterable, int depth) {
    if (iterable.is_none()) fail("'NoneType' object is not iterable");
    std::vector<Value> all = iterate(iterable);
    auto frame = std::make_shared<Frame>();
    frame->parent = frame_;
    FramePtr saved = frame_;
    frame_ = frame;
    struct Restore {
        Evaluator* ev;
        FramePtr f;
        ~Restore() { ev->frame_ = f; }
    } restore{this, saved};
    auto items = std::make_shared<std::vector<Value>>();
    if (s.cond) {
        for (const Value& v : all) {
            count_iterations(1);
            assign(*s.target, v);
            if (eval(*s.cond).truthy()) items->push_back(v);
        }
    } else {
        *items = std::move(all);
    }
    if (items->empty()) {
        frame_ = saved;
        if (exec_body(s.else_body) != Flow::kNormal) fail("'break' or 'continue' outside of a for loop");
        return;
    }
    std::shared_ptr<const std::vector<Value>> shared = items;
    for (size_t i = 0; i < shared->size(); ++i) {
        count_iterations(1);
        // Each iteration starts from the enclosing scope: a `set` in one iteration is not seen by
        // the next (Jinja compiles loop-body assignments as per-iteration locals).
        frame_ = std::make_shared<Frame>();
        frame_->parent = saved;
        assign(*s.target, (*shared)[i]);
        frame_->vars["loop"] = Value(ObjectPtr(std::make_shared<LoopObject>(shared, i, depth, &s)));
        Flow f = exec_body(s.body);
        if (f == Flow::kBreak) break;
    }
}

std::string Evaluator::recurse_loop(const Stmt& s, const Value& iterable, int depth) {
    DepthGuard g(this);
    std::string out;
    std::string* saved = out_;
    out_ = &out;
    struct Restore {
        Evaluator* ev;
        std::string* o;
        ~Restore() { ev->out_ = o; }
    } restore{this, saved};
    run_for_loop(s, iterable, depth);
    return out;
}

Value Evaluator::make_macro(const Stmt& s) {
    ObjectPtr m = std::make_shared<Macro>(s.text, &s.params, &s.body, frame_, std::nullopt);
    track(m);
    return Value(m);
}

Evaluator::Flow Evaluator::exec(const Stmt& s) {
    switch (s.kind) {
        case Stmt::Kind::kText: write(s.text); return Flow::kNormal;
        case Stmt::Kind::kOutput: write(eval(*s.expr).str()); return Flow::kNormal;
        case Stmt::Kind::kIf:
            for (const auto& [cond, body] : s.branches)
                if (eval(*cond).truthy()) return exec_body(body);
            return exec_body(s.else_body);
        case Stmt::Kind::kFor: run_for_loop(s, eval(*s.expr), 1); return Flow::kNormal;
        case Stmt::Kind::kSet: {
            if (s.expr) {
                assign(*s.target, eval(*s.expr));
                return Flow::kNormal;
            }
            auto frame = std::make_shared<Frame>();
            frame->parent = frame_;
            Value v(render_body_to_string(s.body, frame));
            for (const auto& f : s.filters) v = apply_filter(f->name, v, eval_args(*f, 1));
            assign(*s.target, v);
            return Flow::kNormal;
        }
        case Stmt::Kind::kMacro: frame_->vars[s.text] = make_macro(s); return Flow::kNormal;
        case Stmt::Kind::kCallBlock: {
            ObjectPtr caller_macro = std::make_shared<Macro>("caller", &s.params, &s.body, frame_, std::nullopt);
            track(caller_macro);
            Value caller(caller_macro);
            const Expr& call_expr = *s.expr;
            Value callee = eval(*call_expr.items[0]);
            CallArgs args = eval_args(call_expr, 1);
            if (!callee.is_object()) fail("{% call %} needs a macro, got " + callee.type_name());
            auto* m = dynamic_cast<Macro*>(&callee.as_object());
            if (!m) fail("{% call %} needs a macro, got " + callee.type_name());
            // A copy of the macro with `caller` visible inside it.
            auto bound = std::make_shared<Macro>(*m);
            bound->set_caller(caller);
            track(bound);
            write(bound->call(*this, args).str());
            return Flow::kNormal;
        }
        case Stmt::Kind::kFilterBlock: {
            auto frame = std::make_shared<Frame>();
            frame->parent = frame_;
            Value v(render_body_to_string(s.body, frame));
            for (const auto& f : s.filters) v = apply_filter(f->name, v, eval_args(*f, 1));
            write(v.str());
            return Flow::kNormal;
        }
        case Stmt::Kind::kWith: {
            auto frame = std::make_shared<Frame>();
            frame->parent = frame_;
            for (const auto& [name, e] : s.assigns) frame->vars[name] = eval(*e);
            FramePtr saved = frame_;
            frame_ = frame;
            Flow f = exec_body(s.body);
            frame_ = saved;
            return f;
        }
        case Stmt::Kind::kBreak: return Flow::kBreak;
        case Stmt::Kind::kContinue: return Flow::kContinue;
        case Stmt::Kind::kScope: return exec_body(s.body);
    }
    return Flow::kNormal;
}

CallArgs Evaluator::eval_args(const Expr& e, size_t first) {
    CallArgs a;
    for (size_t i = first; i < e.items.size(); ++i) a.positional.push_back(eval(*e.items[i]));
    for (const auto& [k, v] : e.kwargs) a.keyword.emplace_back(k, eval(*v));
    return a;
}

Value Evaluator::call(const Value& callee, const CallArgs& args) {
    if (callee.is_undefined()) callee.require_defined();
    if (!callee.is_object() || !callee.as_object().callable()) fail("'" + callee.type_name() + "' object is not callable");
    return callee.as_object().call(*this, args);
}

Value Evaluator::eval(const Expr& e) {
    switch (e.kind) {
        case Expr::Kind::kLiteral: return e.literal;
        case Expr::Kind::kName: {
            const Value* v = frame_->lookup(e.name);
            return v ? *v : Value::undefined("'" + e.name + "' is undefined");
        }
        case Expr::Kind::kList:
        case Expr::Kind::kTuple: {
            std::vector<Value> items;
            for (const auto& i : e.items) items.push_back(eval(*i));
            return Value::list(std::move(items), e.kind == Expr::Kind::kTuple);
        }
        case Expr::Kind::kDict: {
            std::vector<std::pair<Value, Value>> items;
            for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
                Value k = eval(*e.items[i]);
                Value v = eval(*e.items[i + 1]);
                bool replaced = false;
                for (auto& kv : items)
                    if (py_equal(kv.first, k)) {
                        kv.second = v;
                        replaced = true;
                    }
                if (!replaced) items.emplace_back(std::move(k), std::move(v));
            }
            return Value::dict(std::move(items));
        }
        case Expr::Kind::kAttr: return get_attr(eval(*e.items[0]), e.name);
        case Expr::Kind::kItem: return get_item(eval(*e.items[0]), eval(*e.items[1]));
        case Expr::Kind::kSlice: {
            Value target = eval(*e.items[0]);
            Value parts[3];
            for (size_t i = 0; i < 3; ++i) parts[i] = e.items[i + 1] ? eval(*e.items[i + 1]) : Value(None{});
            return py_slice(target, parts[0], parts[1], parts[2]);
        }
        case Expr::Kind::kCall: {
            Value callee = eval(*e.items[0]);
            return call(callee, eval_args(e, 1));
        }
        case Expr::Kind::kFilter: return apply_filter(e.name, eval(*e.items[0]), eval_args(e, 1));
        case Expr::Kind::kTest: {
            bool r = apply_test(e.name, eval(*e.items[0]), eval_args(e, 1));
            return Value(e.negated ? !r : r);
        }
        case Expr::Kind::kUnary: {
            Value v = eval(*e.items[0]);
            if (e.name == "not") return Value(!v.truthy());
            v.require_defined();
            if (v.is_float()) return Value(e.name == "-" ? -v.as_double() : v.as_double());
            if (v.is_integral()) {
                if (e.name == "+") return Value(v.as_int());
                if (v.as_int() == INT64_MIN) fail("integer overflow (kite's integers are 64-bit)");
                return Value(-v.as_int());
            }
            fail("bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
        }
        case Expr::Kind::kBinary: {
            if (e.name == "and") {
                Value a = eval(*e.items[0]);
                return a.truthy() ? eval(*e.items[1]) : a;
            }
            if (e.name == "or") {
                Value a = eval(*e.items[0]);
                return a.truthy() ? a : eval(*e.items[1]);
            }
            Value a = eval(*e.items[0]);
            Value b = eval(*e.items[1]);
            return python_binary(*this, e.name, a, b);
        }
        case Expr::Kind::kCond:
            if (eval(*e.items[1]).truthy()) return eval(*e.items[0]);
            return e.items[2] ? eval(*e.items[2]) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
    return Value();
}

}  // namespace kite::tmpl
