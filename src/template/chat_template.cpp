// render_chat_template: transformers' apply_chat_template preprocessing (null keys dropped,
// reasoning aliasing, variables as globals) around the Jinja engine, and the Status boundary:
// the engine's internal TemplateError never leaves this file.
#include "template/chat_template.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <new>
#include <stdexcept>
#include <vector>

#include "template/evaluator.h"
#include "template/json_value.h"
#include "template/parser.h"

namespace kite {
namespace {

using tmpl::Value;

template <typename Json>
int depth_of(const Json& j) {
    int deepest = 0;
    std::vector<std::pair<const Json*, int>> stack = {{&j, 1}};
    while (!stack.empty()) {
        auto [v, d] = stack.back();
        stack.pop_back();
        deepest = std::max(deepest, d);
        if (d > kMaxChatJsonDepth) break;
        if (v->is_array() || v->is_object())
            for (const auto& child : *v) stack.emplace_back(&child, d + 1);
    }
    return deepest;
}

// Jinja refuses an unknown filter or test when compiling, except inside an if-statement or
// conditional expression ("soft" scopes), where it fails only when reached. Loops, macros and other
// blocks open a fresh scope that is not soft, even inside an if.
void check_names(const tmpl::Evaluator& ev, const tmpl::Expr* e, bool soft) {
    if (!e) return;
    if (!soft && e->kind == tmpl::Expr::Kind::kFilter && !ev.has_filter(e->name)) tmpl::fail("no filter named '" + e->name + "'");
    if (!soft && e->kind == tmpl::Expr::Kind::kTest && !ev.has_test(e->name)) tmpl::fail("no test named '" + e->name + "'");
    bool inner_soft = soft || e->kind == tmpl::Expr::Kind::kCond;
    for (const auto& i : e->items) check_names(ev, i.get(), inner_soft);
    for (const auto& kv : e->kwargs) check_names(ev, kv.second.get(), inner_soft);
}

void check_names(const tmpl::Evaluator& ev, const tmpl::Body& body, bool soft) {
    using K = tmpl::Stmt::Kind;
    for (const auto& s : body) {
        bool is_if = s->kind == K::kIf;
        bool block_soft = is_if ? true : (s->kind == K::kScope ? soft : false);
        check_names(ev, s->expr.get(), soft);
        check_names(ev, s->target.get(), block_soft);
        check_names(ev, s->cond.get(), block_soft);
        for (const auto& [c, b] : s->branches) {
            check_names(ev, c.get(), true);
            check_names(ev, b, true);
        }
        check_names(ev, s->body, block_soft);
        check_names(ev, s->else_body, block_soft);
        for (const auto& f : s->filters) check_names(ev, f.get(), soft);
        for (const auto& p : s->params) check_names(ev, p.default_value.get(), false);
        for (const auto& a : s->assigns) check_names(ev, a.second.get(), soft);
    }
}

Status to_status(const tmpl::TemplateError& e) {
    if (e.from_raise_exception) return invalid_argument(e.message);
    return invalid_argument("chat template: " + e.message);
}

// HF: drop null-valued keys; if reasoning_content / thinking / reasoning is set, the template sees
// {"thinking": r, **message, "reasoning_content": r}.
Value preprocess_message(const nlohmann::ordered_json& m) {
    if (!m.is_object()) return tmpl::value_from_json(m);
    nlohmann::ordered_json msg = nlohmann::ordered_json::object();
    for (auto it = m.begin(); it != m.end(); ++it)
        if (!it.value().is_null()) msg[it.key()] = it.value();
    const nlohmann::ordered_json* reasoning = nullptr;
    for (const char* k : {"reasoning_content", "thinking", "reasoning"}) {
        auto it = msg.find(k);
        if (it != msg.end()) {
            reasoning = &*it;
            break;
        }
    }
    if (!reasoning) return tmpl::value_from_json(msg);
    nlohmann::ordered_json r = *reasoning;
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    out["thinking"] = r;
    for (auto it = msg.begin(); it != msg.end(); ++it) out[it.key()] = it.value();
    out["reasoning_content"] = r;
    return tmpl::value_from_json(out);
}

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(std::string_view template_text) {
    try {
        auto ast = std::make_shared<tmpl::TemplateAst>(tmpl::parse_template(template_text));
        check_names(tmpl::Evaluator(tmpl::Limits{}), ast->body, false);
        ChatTemplate t;
        t.ast_ = std::move(ast);
        return t;
    } catch (const tmpl::TemplateError& e) {
        return to_status(e);
    } catch (const std::bad_alloc&) {  // a template is untrusted input: running out of memory is its error
        return invalid_argument("chat template: out of memory while parsing");
    } catch (const std::length_error&) {
        return invalid_argument("chat template: a string or list grew past its maximum size while parsing");
    }
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                         const nlohmann::ordered_json& variables, const RenderOptions& options) const {
    if (!messages.is_array()) return invalid_argument("chat template: messages must be a JSON array of message objects");
    if (!variables.is_null() && !variables.is_object()) return invalid_argument("chat template: variables must be a JSON object");
    if (json_nesting_depth(messages) > kMaxChatJsonDepth || json_nesting_depth(variables) > kMaxChatJsonDepth)
        return invalid_argument("chat template: messages or variables nested more than " + std::to_string(kMaxChatJsonDepth) + " levels deep");
    try {
        std::unordered_map<std::string, Value> globals;
        tmpl::add_builtin_globals(globals);
        if (variables.is_object())
            for (auto it = variables.begin(); it != variables.end(); ++it) globals[it.key()] = tmpl::value_from_json(it.value());
        std::vector<Value> msgs;
        for (const auto& m : messages) msgs.push_back(preprocess_message(m));
        globals["messages"] = Value::list(std::move(msgs));
        globals["add_generation_prompt"] = Value(add_generation_prompt);
        tmpl::Limits limits;
        limits.max_output_bytes = options.max_output_bytes;
        limits.max_recursion_depth = options.max_recursion_depth;
        limits.max_loop_iterations = options.max_loop_iterations;
        limits.fixed_time = options.fixed_time;
        tmpl::Evaluator ev(limits);
        return ev.render(*ast_, std::move(globals));
    } catch (const tmpl::TemplateError& e) {
        return to_status(e);
    } catch (const std::bad_alloc&) {  // a template is untrusted input: running out of memory is its error
        return invalid_argument("chat template: out of memory while rendering");
    } catch (const std::length_error&) {
        return invalid_argument("chat template: a string or list grew past its maximum size while rendering");
    }
}

Result<std::string> render_chat_template(std::string_view template_text, const nlohmann::ordered_json& messages,
                                         bool add_generation_prompt, const nlohmann::ordered_json& variables,
                                         const RenderOptions& options) {
    KITE_ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::parse(template_text));
    return t.render(messages, add_generation_prompt, variables, options);
}

Result<std::string> render_chat_template(std::string_view template_text, const nlohmann::json& messages,
                                         bool add_generation_prompt, const nlohmann::json& variables,
                                         const RenderOptions& options) {
    if (depth_of(messages) > kMaxChatJsonDepth || depth_of(variables) > kMaxChatJsonDepth)
        return invalid_argument("chat template: messages or variables nested more than " + std::to_string(kMaxChatJsonDepth) + " levels deep");
    return render_chat_template(template_text, nlohmann::ordered_json::parse(messages.dump()), add_generation_prompt,
                                nlohmann::ordered_json::parse(variables.dump()), options);
}

int json_nesting_depth(const nlohmann::ordered_json& j) { return depth_of(j); }

Result<int64_t> parse_fixed_time(std::string_view text) {
    std::string s(text);
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    char sep = 0;
    int n = std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &sep, &h, &mi, &sec);
    if (n == 3 || (n == 7 && (sep == 'T' || sep == ' '))) {
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
            return invalid_argument("fixed time '" + s + "': date or time out of range");
        std::tm tm{};
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        return static_cast<int64_t>(timegm(&tm));
    }
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == '\0') return static_cast<int64_t>(v);
    return invalid_argument("fixed time '" + s + "': expected YYYY-MM-DDTHH:MM:SS, YYYY-MM-DD or seconds since the epoch");
}

}  // namespace kite
