// Tool definitions, the constraint they imply, and parsing the model's tool-call text.
#include "server/tool_calls.h"

#include "server/json_fields.h"

namespace kite::server {

namespace {

using nlohmann::json;

const char* const kHermesOpen = "<tool_call>";
const char* const kHermesClose = "</tool_call>";
const char* const kPythonTag = "<|python_tag|>";

std::string trim(const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) return "";
    return s.substr(a, s.find_last_not_of(" \t\r\n") + 1 - a);
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// {"name": ..., "arguments"|"parameters": {...}} -> a call of a known function.
std::optional<ToolCall> call_of(const json& j, const ToolConfig& cfg) {
    if (!j.is_object()) return std::nullopt;
    auto name = j.find("name");
    if (name == j.end() || !name->is_string() || !cfg.has(name->get<std::string>())) return std::nullopt;
    auto args = j.find("arguments");
    if (args == j.end()) args = j.find("parameters");
    json a = args == j.end() ? json::object() : *args;
    if (a.is_string()) {  // arguments already as JSON text
        auto parsed = json::parse(a.get<std::string>(), nullptr, false);
        if (!parsed.is_discarded()) a = parsed;
    }
    return ToolCall{name->get<std::string>(), a.dump()};
}

}  // namespace

bool ToolConfig::has(const std::string& name) const {
    for (const json& t : tools)
        if (t["function"]["name"] == name) return true;
    return false;
}

Result<ToolConfig> parse_tools(const json& body) {
    ToolConfig cfg;
    if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
        if (!it->is_array()) return invalid_argument("tools: expected an array of tools, got " + type_name(*it));
        if (it->size() > 512) return invalid_argument("tools: at most 512 tools");
        for (size_t i = 0; i < it->size(); ++i) {
            const json& t = (*it)[i];
            const std::string where = "tools[" + std::to_string(i) + "]";
            if (!t.is_object()) return invalid_argument(where + ": expected an object, got " + type_name(t));
            KITE_ASSIGN_OR_RETURN(auto type, get_string(t, "type"));
            if (type.value_or("function") != "function")
                return invalid_argument(where + ".type: '" + *type + "' is not supported (only function)");
            auto f = t.find("function");
            if (f == t.end() || !f->is_object()) return invalid_argument(where + ".function: expected an object");
            KITE_ASSIGN_OR_RETURN(auto name, get_string(*f, "name"));
            if (!name || name->empty()) return invalid_argument(where + ".function.name: is required");
            if (auto p = f->find("parameters"); p != f->end() && !p->is_null() && !p->is_object())
                return invalid_argument(where + ".function.parameters: expected a JSON schema object, got " + type_name(*p));
            json def = t;
            def["type"] = "function";
            cfg.tools.push_back(def);
        }
    }
    auto tc = body.find("tool_choice");
    if (tc == body.end() || tc->is_null()) return cfg;
    if (tc->is_string()) {
        const std::string c = tc->get<std::string>();
        if (c == "none") cfg.choice = ToolConfig::Choice::kNone;
        else if (c == "auto") cfg.choice = ToolConfig::Choice::kAuto;
        else if (c == "required") cfg.choice = ToolConfig::Choice::kRequired;
        else return invalid_argument("tool_choice: '" + c + "' is not one of none, auto, required, or a named function");
    } else if (tc->is_object()) {
        auto f = tc->find("function");
        if (f == tc->end() || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string())
            return invalid_argument("tool_choice: expected {\"type\": \"function\", \"function\": {\"name\": ...}}");
        cfg.choice = ToolConfig::Choice::kNamed;
        cfg.named = (*f)["name"].get<std::string>();
        if (!cfg.has(cfg.named)) return invalid_argument("tool_choice: function '" + cfg.named + "' is not in tools");
    } else {
        return invalid_argument("tool_choice: expected a string or an object, got " + type_name(*tc));
    }
    if ((cfg.choice == ToolConfig::Choice::kRequired) && cfg.tools.empty())
        return invalid_argument("tool_choice: 'required' needs at least one tool in tools");
    return cfg;
}

std::optional<ConstraintRequest> tool_constraint(const ToolConfig& cfg) {
    auto params_of = [](const json& t) {
        auto p = t["function"].find("parameters");
        return p == t["function"].end() || p->is_null() ? json{{"type", "object"}} : *p;
    };
    if (cfg.choice == ToolConfig::Choice::kNamed) {
        for (const json& t : cfg.tools)
            if (t["function"]["name"] == cfg.named)
                return ConstraintRequest{{structured::ConstraintKind::kJsonSchema, params_of(t).dump(), {}}, "tool_choice"};
    }
    if (cfg.choice != ToolConfig::Choice::kRequired) return std::nullopt;
    json any = json::array();
    for (const json& t : cfg.tools)
        any.push_back({{"type", "object"},
                       {"properties", {{"name", {{"type", "string"}, {"enum", {t["function"]["name"]}}}}, {"parameters", params_of(t)}}},
                       {"required", {"name", "parameters"}},
                       {"additionalProperties", false}});
    json schema = {{"type", "array"}, {"minItems", 1}, {"items", {{"anyOf", any}}}};
    return ConstraintRequest{{structured::ConstraintKind::kJsonSchema, schema.dump(), {}}, "tool_choice"};
}

ParsedOutput parse_tool_output(const std::string& text, const ToolConfig& cfg) {
    ParsedOutput out;
    if (cfg.choice == ToolConfig::Choice::kNamed) {
        auto j = json::parse(text, nullptr, false);
        if (!j.is_discarded() && j.is_object()) {
            out.calls.push_back({cfg.named, j.dump()});
            return out;
        }
    }
    // Hermes / Qwen: <tool_call>{...}</tool_call> blocks anywhere in the text.
    if (text.find(kHermesOpen) != std::string::npos) {
        std::string rest;
        size_t pos = 0;
        while (true) {
            const size_t a = text.find(kHermesOpen, pos);
            if (a == std::string::npos) {
                rest += text.substr(pos);
                break;
            }
            rest += text.substr(pos, a - pos);
            const size_t body = a + std::string(kHermesOpen).size();
            size_t b = text.find(kHermesClose, body);
            const std::string inner = text.substr(body, b == std::string::npos ? std::string::npos : b - body);
            auto j = json::parse(trim(inner), nullptr, false);
            auto call = j.is_discarded() ? std::nullopt : call_of(j, cfg);
            if (call) out.calls.push_back(*call);
            else rest += text.substr(a, (b == std::string::npos ? text.size() : b + std::string(kHermesClose).size()) - a);
            if (b == std::string::npos) break;
            pos = b + std::string(kHermesClose).size();
        }
        out.content = trim(rest);
        return out;
    }
    // Llama 3 (and `required`): the whole output is one call, a list of calls, or calls joined by ';'.
    std::string t = trim(text);
    if (starts_with(t, kPythonTag)) t = trim(t.substr(std::string(kPythonTag).size()));
    auto j = json::parse(t, nullptr, false);
    std::vector<json> items;
    if (!j.is_discarded()) {
        if (j.is_array()) items.assign(j.begin(), j.end());
        else items.push_back(j);
    } else {
        size_t pos = 0;
        while (pos <= t.size()) {
            size_t semi = t.find(';', pos);
            auto part = json::parse(trim(t.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos)), nullptr, false);
            if (part.is_discarded()) { items.clear(); break; }
            items.push_back(part);
            if (semi == std::string::npos) break;
            pos = semi + 1;
        }
    }
    for (const json& item : items) {
        auto call = call_of(item, cfg);
        if (!call) {
            out.calls.clear();
            break;
        }
        out.calls.push_back(*call);
    }
    if (out.calls.empty()) out.content = text;
    return out;
}

Result<ToolConfig> apply_tools(ServerState& st, const json& body, GenerationRequest& request) {
    KITE_ASSIGN_OR_RETURN(ToolConfig tools, parse_tools(body));
    KITE_RETURN_IF_ERROR(apply_structured_output(st, body, request));
    if (auto tc = tool_constraint(tools)) {
        if (request.logits_processor)
            return invalid_argument("tool_choice: 'required' or a named function cannot be combined with response_format or guided_*");
        KITE_RETURN_IF_ERROR(attach_constraint(st, *tc, request));
    }
    return tools;
}

void prepare_tool_messages(json& messages) {
    for (json& m : messages) {
        auto tc = m.find("tool_calls");
        if (tc == m.end() || !tc->is_array()) continue;
        for (json& call : *tc) {
            if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
            json& f = call["function"];
            if (f.contains("arguments") && f["arguments"].is_string()) {
                auto a = json::parse(f["arguments"].get<std::string>(), nullptr, false);
                if (!a.is_discarded()) f["arguments"] = a;
            }
        }
    }
}

ToolCallStream::ToolCallStream(const ToolConfig* cfg) : cfg_(cfg) {
    tool_mode_ = cfg->choice == ToolConfig::Choice::kRequired || cfg->choice == ToolConfig::Choice::kNamed;
}

std::string ToolCallStream::feed(const std::string& delta) {
    held_ += delta;
    if (tool_mode_) return "";
    if (!decided_) {
        const std::string t = trim(held_);
        if (t.empty()) return "";
        for (const std::string start : {std::string(kHermesOpen), std::string(kPythonTag), std::string("{"), std::string("[")}) {
            if (starts_with(t, start)) {
                tool_mode_ = true;
                return "";
            }
            if (start.size() > 1 && starts_with(start, t)) return "";  // may still become one
        }
        decided_ = true;
    }
    const size_t pos = held_.find(kHermesOpen);
    if (pos != std::string::npos) {
        std::string out = held_.substr(0, pos);
        held_ = held_.substr(pos);
        tool_mode_ = true;
        return out;
    }
    // Hold back a tail that may be the start of "<tool_call>".
    const std::string open = kHermesOpen;
    size_t keep = 0;
    for (size_t k = std::min(open.size() - 1, held_.size()); k > 0; --k)
        if (held_.compare(held_.size() - k, k, open, 0, k) == 0) {
            keep = k;
            break;
        }
    std::string out = held_.substr(0, held_.size() - keep);
    held_ = held_.substr(held_.size() - keep);
    return out;
}

ParsedOutput ToolCallStream::finish() {
    ParsedOutput out;
    if (tool_mode_) {
        out = parse_tool_output(held_, *cfg_);
        if (out.calls.empty()) out.content = held_;
    } else {
        out.content = held_;
    }
    held_.clear();
    return out;
}

}  // namespace kite::server
