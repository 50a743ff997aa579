#include "router/chat_split.h"

#include <nlohmann/json.hpp>

#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace kite::router {

using nlohmann::json;

std::optional<ChatAsCompletion> chat_to_completion(const Tokenizer& tok, const std::string& chat_template,
                                                  const std::string& chat_body) {
    const std::string& tmpl = chat_template.empty() ? tok.chat_template() : chat_template;
    if (tmpl.empty()) return std::nullopt;
    json j = json::parse(chat_body, nullptr, false);
    if (!j.is_object() || !j.contains("messages") || !j["messages"].is_array() || j["messages"].empty()) return std::nullopt;
    // Anything the backend's chat path does beyond template + tokenize stays with the backend.
    for (const char* f : {"tools", "tool_choice", "functions", "response_format", "guided_json", "guided_regex",
                          "guided_choice", "guided_grammar", "logprobs", "top_logprobs", "chat_template_kwargs",
                          "add_generation_prompt", "echo", "continue_final_message"})
        if (j.contains(f) && !j[f].is_null() && !(j[f].is_boolean() && !j[f].get<bool>())) return std::nullopt;
    if (j.contains("n") && !(j["n"].is_number_integer() && j["n"].get<int64_t>() == 1)) return std::nullopt;
    // A chat without max_tokens runs to the end of the context; a completion would stop at 16.
    json max_tokens = j.contains("max_completion_tokens") ? j["max_completion_tokens"] : j.value("max_tokens", json());
    if (!max_tokens.is_number_integer()) return std::nullopt;
    for (const json& m : j["messages"]) {
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
            !m["content"].is_string() || m.size() != 2)
            return std::nullopt;
        const std::string r = m["role"].get<std::string>();
        if (r != "system" && r != "user" && r != "assistant") return std::nullopt;
    }
    const json vars = {{"bos_token", tok.bos_token()}, {"eos_token", tok.eos_token()}};
    auto prompt = render_chat_template(tmpl, j["messages"], /*add_generation_prompt=*/true, vars);
    if (!prompt.ok()) return std::nullopt;  // the backend answers the template error itself
    // The template writes the special tokens (BOS included): none added, as the backend does.
    auto ids = tok.encode(*prompt, /*add_special_tokens=*/false);
    if (!ids.ok() || ids->empty()) return std::nullopt;
    json c = j;
    c.erase("messages");
    c.erase("max_completion_tokens");
    c["max_tokens"] = max_tokens;
    c["prompt"] = *ids;
    ChatAsCompletion out;
    out.stream = j.value("stream", false);
    out.body = c.dump();
    return out;
}

std::string completion_to_chat(const std::string& completion_body) {
    json c = json::parse(completion_body, nullptr, false);
    if (!c.is_object() || !c.contains("choices") || !c["choices"].is_array()) return completion_body;  // an error body
    json choices = json::array();
    for (const json& ch : c["choices"]) {
        choices.push_back({{"index", ch.value("index", 0)},
                           {"message", {{"role", "assistant"}, {"content", ch.value("text", "")}, {"refusal", nullptr}}},
                           {"finish_reason", ch.contains("finish_reason") ? ch["finish_reason"] : json()},
                           {"logprobs", nullptr}});
    }
    c["choices"] = choices;
    c["object"] = "chat.completion";
    if (c.contains("id") && c["id"].is_string()) c["id"] = "chat" + c["id"].get<std::string>();
    return c.dump();
}

std::string completion_event_to_chat(std::string_view data, bool first) {
    if (data == "[DONE]") return "data: [DONE]\n\n";
    json c = json::parse(data, nullptr, false);
    if (!c.is_object() || !c.contains("choices")) return "data: " + std::string(data) + "\n\n";  // error event
    c["object"] = "chat.completion.chunk";
    if (c.contains("id") && c["id"].is_string()) c["id"] = "chat" + c["id"].get<std::string>();
    std::string out;
    if (first) {
        json head = c;
        head["choices"] = json::array({{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                                        {"finish_reason", nullptr}, {"logprobs", nullptr}}});
        head.erase("usage");
        out += "data: " + head.dump() + "\n\n";
    }
    json choices = json::array();
    for (const json& ch : c["choices"]) {
        json delta = json::object();
        const std::string text = ch.value("text", "");
        if (!text.empty()) delta["content"] = text;
        choices.push_back({{"index", ch.value("index", 0)}, {"delta", delta},
                           {"finish_reason", ch.contains("finish_reason") ? ch["finish_reason"] : json()},
                           {"logprobs", nullptr}});
    }
    c["choices"] = choices;
    out += "data: " + c.dump() + "\n\n";
    return out;
}

}  // namespace kite::router
