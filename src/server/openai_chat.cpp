// POST /v1/chat/completions: messages rendered with the chat template (--chat-template or the
// tokenizer's), then generation; the stream opens with the role, carries content deltas, and ends
// with one finish_reason per choice and, when asked, a usage chunk.
#include "server/api_common.h"
#include "server/json_fields.h"
#include "server/json_reader.h"
#include "server/sse.h"
#include "template/chat_template.h"

namespace kite::server {

namespace {

using nlohmann::json;

constexpr size_t kMaxMessages = 4096;

class ChatApi : public GenerationApi {
public:
    void stream_begin(GenerationJob& job) override {
        for (size_t i = 0; i < job.choices().size(); ++i) {
            json choice = {{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                           {"finish_reason", nullptr}};
            job.write(sse_data(dump(chunk(job, json::array({choice})))));
        }
    }

    void stream_delta(GenerationJob& job, const ChoiceDelta& d) override {
        if (d.text.empty() && !d.finished && d.logprobs.empty()) return;
        json delta = json::object();
        if (!d.text.empty()) delta["content"] = d.text;
        json choice = {{"index", d.choice}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
        if (job.options().logprobs >= 0 && !d.logprobs.empty()) choice["logprobs"] = logprobs_json(job, d.logprobs);
        if (d.finished) choice["finish_reason"] = openai_finish_reason(job.choices()[d.choice].reason);
        job.write(sse_data(dump(chunk(job, json::array({choice})))));
    }

    void stream_end(GenerationJob& job, const Status& error) override { openai_stream_end(job, "chat.completion.chunk", error); }

    HttpResponse response(GenerationJob& job) override {
        json choices = json::array();
        for (size_t i = 0; i < job.choices().size(); ++i) {
            const ChoiceState& c = job.choices()[i];
            json lp = nullptr;
            if (job.options().logprobs >= 0) lp = logprobs_json(job, c.logprobs);
            choices.push_back({{"index", i},
                               {"message", {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}}},
                               {"logprobs", lp},
                               {"finish_reason", openai_finish_reason(c.reason)}});
        }
        json body = {{"id", job.id()}, {"object", "chat.completion"}, {"created", job.created()},
                     {"model", job.state().config.served_model_name}, {"choices", choices},
                     {"usage", usage_json(job)}};
        HttpResponse r;
        r.body = dump(body);
        return r;
    }

private:
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

void handle_chat(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = read_json_body(req.body, st.config.max_json_depth);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    if (Status s = check_model(st, *body); !s.is_ok()) return respond_error(st, req, *ex, s);
    auto parsed = parse_generation(*body, ApiKind::kChat, st.limits);
    if (!parsed.ok()) return respond_error(st, req, *ex, parsed.status());
    auto messages = normalize_messages(*body);
    if (!messages.ok()) return respond_error(st, req, *ex, messages.status());
    size_t content_bytes = 0;  // bounds the template's work before it starts
    for (const json& m : *messages)
        if (m["content"].is_string()) content_bytes += m["content"].get_ref<const std::string&>().size();
    if (Status s = check_prompt_bytes(st, content_bytes, "messages"); !s.is_ok()) return respond_error(st, req, *ex, s);
    auto add_gen = get_bool(*body, "add_generation_prompt");
    if (!add_gen.ok()) return respond_error(st, req, *ex, add_gen.status());
    json vars = {{"bos_token", st.tokenizer->bos_token()}, {"eos_token", st.tokenizer->eos_token()}};
    if (auto it = body->find("chat_template_kwargs"); it != body->end() && !it->is_null()) {
        if (!it->is_object())
            return respond_error(st, req, *ex, invalid_argument("chat_template_kwargs: expected an object, got " + type_name(*it)));
        for (const auto& [k, v] : it->items()) vars[k] = v;
    }
    const std::string& tmpl = st.chat_template();
    if (tmpl.empty())
        return respond_error(st, req, *ex, invalid_argument("messages: this model has no chat template; start the server "
                                                            "with --chat-template FILE or use /v1/completions"));
    auto prompt = render_chat_template(tmpl, *messages, add_gen->value_or(true), vars);
    if (!prompt.ok())
        return respond_error(st, req, *ex, invalid_argument("messages: the chat template failed: " + prompt.status().message()));
    // The template writes the special tokens itself (BOS included), so none are added here.
    auto ids = encode_text(st, *prompt, /*add_special_tokens=*/false, "messages");
    if (!ids.ok()) return respond_error(st, req, *ex, ids.status());
    std::vector<PreparedPrompt> prompts;
    prompts.push_back({std::move(*ids), std::move(*prompt)});
    launch_generation(st, req, ex, std::move(*parsed), ApiKind::kChat, std::move(prompts), std::make_unique<ChatApi>(),
                      "chatcmpl-");
}

}  // namespace kite::server
