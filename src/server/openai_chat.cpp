// POST /v1/chat/completions: messages rendered with the chat template (--chat-template or the
// tokenizer's), then generation; the stream opens with the role, carries content deltas, and ends
// with one finish_reason per choice and, when asked, a usage chunk.
#include <unordered_map>

#include "server/api_common.h"
#include "server/json_fields.h"
#include "server/sse.h"
#include "server/structured_output.h"
#include "server/tool_calls.h"
#include "template/chat_template.h"

namespace kite::server {

namespace {

using nlohmann::json;

constexpr size_t kMaxMessages = 4096;

class ChatApi : public GenerationApi {
public:
    explicit ChatApi(ToolConfig tools = {}) : tools_(std::move(tools)) {}

    void stream_begin(GenerationJob& job) override {
        for (size_t i = 0; i < job.choices().size(); ++i) {
            json choice = {{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                           {"finish_reason", nullptr}};
            job.write(sse_data(dump(chunk(job, json::array({choice})))));
        }
    }

    void stream_delta(GenerationJob& job, const ChoiceDelta& d) override {
        // No chunk for tokens that decode to no text yet; their logprobs go with the next one.
        std::vector<TokenLogprob>& held = held_[d.choice];
        held.insert(held.end(), d.logprobs.begin(), d.logprobs.end());
        std::string text = d.text;
        ParsedOutput tail;
        if (tools_.active()) {  // text that may be a tool call waits for the end
            auto it = streams_.try_emplace(d.choice, &tools_).first;
            text = it->second.feed(d.text);
            if (d.finished) {
                tail = it->second.finish();
                text += tail.content;
            }
        }
        if (text.empty() && !d.finished) return;
        json delta = json::object();
        if (!text.empty()) delta["content"] = text;
        json choice = {{"index", d.choice}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
        if (job.options().logprobs >= 0 && !held.empty()) choice["logprobs"] = logprobs_json(job, held);
        held.clear();
        if (!tail.calls.empty()) {
            // OpenAI's shape: per call, one delta with id, type and name, then its arguments.
            if (!text.empty()) job.write(sse_data(dump(chunk(job, json::array({choice})))));
            for (size_t k = 0; k < tail.calls.size(); ++k) {
                json head = {{"index", k}, {"id", call_id(job, d.choice, k)}, {"type", "function"},
                             {"function", {{"name", tail.calls[k].name}, {"arguments", ""}}}};
                json args = {{"index", k}, {"function", {{"arguments", tail.calls[k].arguments}}}};
                for (const json& tc : {head, args})
                    job.write(sse_data(dump(chunk(job, json::array({{{"index", d.choice}, {"delta", {{"tool_calls", {tc}}}},
                                                                      {"logprobs", nullptr}, {"finish_reason", nullptr}}})))));
            }
            choice["delta"] = json::object();
            choice["logprobs"] = nullptr;
        }
        if (d.finished) choice["finish_reason"] = tail.calls.empty() ? openai_finish_reason(job.choices()[d.choice].reason) : "tool_calls";
        job.write(sse_data(dump(chunk(job, json::array({choice})))));
    }

    void stream_end(GenerationJob& job, const Status& error) override { openai_stream_end(job, "chat.completion.chunk", error); }

    HttpResponse response(GenerationJob& job) override {
        json choices = json::array();
        for (size_t i = 0; i < job.choices().size(); ++i) {
            const ChoiceState& c = job.choices()[i];
            json lp = nullptr;
            if (job.options().logprobs >= 0) lp = logprobs_json(job, c.logprobs);
            json message = {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}};
            const char* finish = openai_finish_reason(c.reason);
            if (tools_.active()) {
                ParsedOutput p = parse_tool_output(c.text, tools_);
                if (!p.calls.empty()) {
                    message["content"] = p.content.empty() ? json(nullptr) : json(p.content);
                    json calls = json::array();
                    for (size_t k = 0; k < p.calls.size(); ++k)
                        calls.push_back({{"id", call_id(job, static_cast<int>(i), k)}, {"type", "function"},
                                         {"function", {{"name", p.calls[k].name}, {"arguments", p.calls[k].arguments}}}});
                    message["tool_calls"] = calls;
                    finish = "tool_calls";
                }
            }
            choices.push_back({{"index", i}, {"message", message}, {"logprobs", lp}, {"finish_reason", finish}});
        }
        json body = {{"id", job.id()}, {"object", "chat.completion"}, {"created", job.created()},
                     {"model", job.state().config.served_model_name}, {"choices", choices},
                     {"usage", usage_json(job)}};
        HttpResponse r;
        r.body = dump(body);
        return r;
    }

private:
    static std::string call_id(GenerationJob& job, int choice, size_t k) {
        return "call_" + job.id().substr(job.id().find('-') + 1) + "_" + std::to_string(choice) + "_" + std::to_string(k);
    }

    std::unordered_map<int, std::vector<TokenLogprob>> held_;  // logprobs of tokens not yet streamed
    ToolConfig tools_;
    std::unordered_map<int, ToolCallStream> streams_;

    static json chunk(GenerationJob& job, json choices) { return openai_chunk(job, "chat.completion.chunk", std::move(choices)); }

    static json entry(const Tokenizer& tok, int32_t id, float lp) {
        const std::string s = token_text(tok, id);
        json bytes = json::array();
        for (unsigned char ch : s) bytes.push_back(static_cast<int>(ch));
        return {{"token", s}, {"logprob", lp}, {"bytes", bytes}};
    }

    static json logprobs_json(GenerationJob& job, const std::vector<TokenLogprob>& lps) {
        const Tokenizer& tok = *job.state().tokenizer;
        json content = json::array();
        const int top_n = job.options().logprobs;
        for (const TokenLogprob& t : lps) {
            json e = entry(tok, t.token, t.logprob);
            json top = json::array();
            for (size_t k = 0; k < t.top.size() && static_cast<int>(k) < top_n; ++k)
                top.push_back(entry(tok, t.top[k].first, t.top[k].second));
            e["top_logprobs"] = top;
            content.push_back(e);
        }
        return {{"content", content}, {"refusal", nullptr}};
    }
};

// Messages as the template expects them: content parts flattened to text (joined by newlines).
Result<json> normalize_messages(const json& body) {
    auto it = body.find("messages");
    if (it == body.end() || it->is_null()) return invalid_argument("messages: is required");
    if (!it->is_array()) return invalid_argument("messages: expected an array of messages, got " + type_name(*it));
    if (it->empty()) return invalid_argument("messages: must contain at least one message");
    if (it->size() > kMaxMessages) return invalid_argument("messages: at most " + std::to_string(kMaxMessages) + " messages");
    json out = json::array();
    for (size_t i = 0; i < it->size(); ++i) {
        const json& m = (*it)[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) return invalid_argument(where + ": expected an object, got " + type_name(m));
        auto role = m.find("role");
        if (role == m.end() || !role->is_string()) return invalid_argument(where + ".role: expected a string");
        const std::string r = role->get<std::string>();
        if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool")
            return invalid_argument(where + ".role: '" + r + "' is not one of system, developer, user, assistant, tool");
        json msg = m;
        auto content = m.find("content");
        if (content == m.end() || content->is_null()) {
            if (r != "assistant") return invalid_argument(where + ".content: is required for role '" + r + "'");
            msg["content"] = "";
        } else if (content->is_array()) {
            std::string text;
            for (size_t k = 0; k < content->size(); ++k) {
                const json& part = (*content)[k];
                const std::string pw = where + ".content[" + std::to_string(k) + "]";
                if (!part.is_object()) return invalid_argument(pw + ": expected a content part object, got " + type_name(part));
                auto type = part.find("type");
                if (type == part.end() || !type->is_string()) return invalid_argument(pw + ".type: expected a string");
                if (*type != "text")
                    return invalid_argument(pw + ".type: '" + type->get<std::string>() + "' parts are not supported (only text)");
                auto t = part.find("text");
                if (t == part.end() || !t->is_string()) return invalid_argument(pw + ".text: expected a string");
                if (!text.empty()) text += "\n";
                text += t->get<std::string>();
            }
            msg["content"] = text;
        } else if (!content->is_string()) {
            return invalid_argument(where + ".content: expected a string or a list of content parts, got " +
                                    type_name(*content));
        }
        out.push_back(std::move(msg));
    }
    return out;
}

}  // namespace

Result<PreparedPrompt> render_chat_prompt(const ServerState& st, const json& body, const json& messages) {
    KITE_ASSIGN_OR_RETURN(auto add_gen, get_bool(body, "add_generation_prompt"));
    json vars = {{"bos_token", st.tokenizer->bos_token()}, {"eos_token", st.tokenizer->eos_token()}};
    if (auto it = body.find("chat_template_kwargs"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return invalid_argument("chat_template_kwargs: expected an object, got " + type_name(*it));
        for (const auto& [k, v] : it->items()) vars[k] = v;
    }
    if (auto it = body.find("tools"); it != body.end() && it->is_array() && !it->empty()) vars["tools"] = *it;
    const std::string& tmpl = st.chat_template();
    if (tmpl.empty())
        return invalid_argument("messages: this model has no chat template; start the server with --chat-template FILE "
                                "or use /v1/completions");
    auto prompt = render_chat_template(tmpl, messages, add_gen.value_or(true), vars);
    if (!prompt.ok()) return invalid_argument("messages: the chat template failed: " + prompt.status().message());
    // The template writes the special tokens itself (BOS included), so none are added here.
    KITE_ASSIGN_OR_RETURN(auto ids, encode_text(st, *prompt, /*add_special_tokens=*/false, "messages"));
    return PreparedPrompt{std::move(ids), std::move(*prompt)};
}

void handle_chat(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    if (Status s = check_model(st, *body); !s.is_ok()) return respond_error(st, req, *ex, s);
    auto parsed = parse_generation(*body, ApiKind::kChat, st.limits);
    if (!parsed.ok()) return respond_error(st, req, *ex, parsed.status());
    auto messages = normalize_messages(*body);
    if (!messages.ok()) return respond_error(st, req, *ex, messages.status());
    auto tools = apply_tools(st, *body, parsed->request);
    if (!tools.ok()) return respond_error(st, req, *ex, tools.status());
    prepare_tool_messages(*messages);
    json render_body = *body;
    if (!tools->active()) render_body.erase("tools");  // tool_choice "none": the template sees no tools
    auto prompt = render_chat_prompt(st, render_body, *messages);
    if (!prompt.ok()) return respond_error(st, req, *ex, prompt.status());
    std::vector<PreparedPrompt> prompts;
    prompts.push_back(std::move(*prompt));
    launch_generation(st, req, ex, std::move(*parsed), ApiKind::kChat, std::move(prompts),
                      std::make_unique<ChatApi>(std::move(*tools)), "chatcmpl-");
}

}  // namespace kite::server
