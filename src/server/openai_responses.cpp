// POST /v1/responses: OpenAI's Responses API over the chat path. The request (input as a string or
// a list of message items, instructions, max_output_tokens, text.format, ...) is translated into a
// chat-completions body, rendered with the chat template and generated like a chat; the answer is a
// `response` object, or a stream of typed events (response.created ... response.completed) with
// `event:` lines as OpenAI sends them. Nothing is stored: previous_response_id is refused.
#include "server/api_common.h"
#include "server/json_fields.h"
#include "server/structured_output.h"
#include "server/tool_calls.h"
#include "server/openai_responses.h"

namespace kite::server {

namespace {

using nlohmann::json;

constexpr size_t kMaxItems = 4096;

std::string sse_event(const json& ev) {
    return "event: " + ev["type"].get<std::string>() + "\ndata: " + dump(ev) + "\n\n";
}

class ResponsesApi : public GenerationApi {
public:
    ResponsesApi(json echo, ToolConfig tools) : echo_(std::move(echo)), tools_(std::move(tools)), stream_(&tools_) {}

    void stream_begin(GenerationJob& job) override {
        ids(job);
        emit(job, {{"type", "response.created"}, {"response", response_object(job, "in_progress")}});
        emit(job, {{"type", "response.in_progress"}, {"response", response_object(job, "in_progress")}});
        // With tools the output may turn out to be only calls: the message opens on its first text.
        if (!tools_.active()) open_message(job);
    }

    void stream_delta(GenerationJob& job, const ChoiceDelta& d) override {
        const std::string text = tools_.active() ? stream_.feed(d.text) : d.text;
        send_text(job, text);  // tokens with no text yet send nothing
    }

    void stream_end(GenerationJob& job, const Status& error) override {
        if (!error.is_ok()) {
            json r = response_object(job, "failed");
            r["error"] = {{"code", "server_error"}, {"message", error.message()}};
            emit(job, {{"type", "response.failed"}, {"response", r}});
            return;
        }
        std::vector<ToolCall> calls;
        if (tools_.active()) {
            ParsedOutput tail = stream_.finish();
            send_text(job, tail.content);
            calls = std::move(tail.calls);
        }
        const char* item_status = incomplete(job) ? "incomplete" : "completed";
        if (message_open_) {
            emit(job, {{"type", "response.output_text.done"}, {"item_id", msg_id_}, {"output_index", 0},
                       {"content_index", 0}, {"text", sent_}, {"logprobs", json::array()}});
            emit(job, {{"type", "response.content_part.done"}, {"item_id", msg_id_}, {"output_index", 0},
                       {"content_index", 0}, {"part", text_part(sent_)}});
            emit(job, {{"type", "response.output_item.done"}, {"output_index", 0}, {"item", message_item(item_status, sent_)}});
        }
        for (size_t k = 0; k < calls.size(); ++k) {
            const int index = static_cast<int>(k) + (message_open_ ? 1 : 0);
            json item = call_item(k, calls[k], "in_progress");
            item["arguments"] = "";
            emit(job, {{"type", "response.output_item.added"}, {"output_index", index}, {"item", item}});
            emit(job, {{"type", "response.function_call_arguments.delta"}, {"item_id", item["id"]}, {"output_index", index},
                       {"delta", calls[k].arguments}});
            emit(job, {{"type", "response.function_call_arguments.done"}, {"item_id", item["id"]}, {"output_index", index},
                       {"name", calls[k].name}, {"arguments", calls[k].arguments}});
            emit(job, {{"type", "response.output_item.done"}, {"output_index", index}, {"item", call_item(k, calls[k], "completed")}});
        }
        const bool inc = incomplete(job);
        emit(job, {{"type", inc ? "response.incomplete" : "response.completed"},
                   {"response", response_object(job, inc ? "incomplete" : "completed")}});
    }

    HttpResponse response(GenerationJob& job) override {
        ids(job);
        HttpResponse r;
        r.body = dump(response_object(job, incomplete(job) ? "incomplete" : "completed"));
        return r;
    }

private:
    static bool incomplete(GenerationJob& job) { return job.choices()[0].reason == FinishReason::kLength; }

    void ids(GenerationJob& job) {
        base_ = job.id().substr(job.id().find('_') + 1);
        msg_id_ = "msg_" + base_;
    }

    void emit(GenerationJob& job, json ev) {
        ev["sequence_number"] = seq_++;
        job.write(sse_event(ev));
    }

    void open_message(GenerationJob& job) {
        message_open_ = true;
        emit(job, {{"type", "response.output_item.added"}, {"output_index", 0}, {"item", message_item("in_progress", "")}});
        emit(job, {{"type", "response.content_part.added"}, {"item_id", msg_id_}, {"output_index", 0},
                   {"content_index", 0}, {"part", text_part("")}});
    }

    void send_text(GenerationJob& job, const std::string& text) {
        if (text.empty()) return;
        if (!message_open_) open_message(job);
        sent_ += text;
        emit(job, {{"type", "response.output_text.delta"}, {"item_id", msg_id_}, {"output_index", 0},
                   {"content_index", 0}, {"delta", text}, {"logprobs", json::array()}});
    }

    static json text_part(const std::string& text) {
        return {{"type", "output_text"}, {"text", text}, {"annotations", json::array()}, {"logprobs", json::array()}};
    }

    json message_item(const char* status, const std::string& text) const {
        json content = json::array();
        if (std::string(status) != "in_progress") content.push_back(text_part(text));
        return {{"id", msg_id_}, {"type", "message"}, {"role", "assistant"}, {"status", status}, {"content", content}};
    }

    json call_item(size_t k, const ToolCall& c, const char* status) const {
        return {{"id", "fc_" + base_ + "_" + std::to_string(k)}, {"type", "function_call"},
                {"call_id", "call_" + base_ + "_" + std::to_string(k)}, {"name", c.name}, {"arguments", c.arguments},
                {"status", status}};
    }

    json response_object(GenerationJob& job, const std::string& status) const {
        json r = echo_;
        r["id"] = job.id();
        r["object"] = "response";
        r["created_at"] = job.created();
        r["status"] = status;
        r["model"] = job.state().config.served_model_name;
        r["error"] = nullptr;
        r["incomplete_details"] = nullptr;
        r["output"] = json::array();  // usage: only once known (the schema does not allow null)
        if (status == "in_progress") return r;
        const std::string& text = job.choices()[0].text;
        const char* item_status = status == "incomplete" ? "incomplete" : "completed";
        ParsedOutput out;
        if (tools_.active()) out = parse_tool_output(text, tools_);
        if (out.calls.empty()) out.content = text;
        if (!out.content.empty() || out.calls.empty()) r["output"].push_back(message_item(item_status, out.content));
        for (size_t k = 0; k < out.calls.size(); ++k) r["output"].push_back(call_item(k, out.calls[k], "completed"));
        r["output_text"] = out.content;
        if (status == "incomplete") r["incomplete_details"] = {{"reason", "max_output_tokens"}};
        const int64_t in = job.num_prompt_tokens(), n_out = job.num_completion_tokens();
        int64_t cached = 0;
        for (const SubRequest& s : job.subs()) cached += s.num_cached_tokens;
        r["usage"] = {{"input_tokens", in},
                      {"input_tokens_details", {{"cached_tokens", cached}, {"cache_write_tokens", 0}}},
                      {"output_tokens", n_out},
                      {"output_tokens_details", {{"reasoning_tokens", 0}}},
                      {"total_tokens", in + n_out}};
        return r;
    }

    json echo_;  // request settings the response object repeats (instructions, temperature, ...)
    ToolConfig tools_;
    ToolCallStream stream_;
    std::string base_, msg_id_, sent_;
    bool message_open_ = false;
    int64_t seq_ = 0;
};

// The text of one input item's content: a string or a list of input_text / output_text parts.
Result<std::string> content_text(const json& content, const std::string& where) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) return invalid_argument(where + ": expected a string or a list of content parts, got " + type_name(content));
    std::string text;
    for (size_t k = 0; k < content.size(); ++k) {
        const json& part = content[k];
        const std::string pw = where + "[" + std::to_string(k) + "]";
        if (!part.is_object()) return invalid_argument(pw + ": expected a content part object, got " + type_name(part));
        auto type = part.find("type");
        if (type == part.end() || !type->is_string()) return invalid_argument(pw + ".type: expected a string");
        if (*type != "input_text" && *type != "output_text" && *type != "text")
            return invalid_argument(pw + ".type: '" + type->get<std::string>() + "' parts are not supported (only input_text, output_text)");
        auto t = part.find("text");
        if (t == part.end() || !t->is_string()) return invalid_argument(pw + ".text: expected a string");
        if (!text.empty()) text += "\n";
        text += t->get<std::string>();
    }
    return text;
}

}  // namespace

Result<ResponsesTranslation> translate_responses_request(const json& body) {
    ResponsesTranslation out;
    for (const char* unsupported : {"previous_response_id", "conversation"}) {
        auto it = body.find(unsupported);
        if (it != body.end() && !it->is_null())
            return invalid_argument(std::string(unsupported) + ": not supported (this server stores no responses; send the whole conversation as input)");
    }
    KITE_ASSIGN_OR_RETURN(auto background, get_bool(body, "background"));
    if (background.value_or(false)) return invalid_argument("background: not supported (responses are not stored)");
    KITE_ASSIGN_OR_RETURN(auto instructions, get_string(body, "instructions"));

    json messages = json::array();
    if (instructions) messages.push_back({{"role", "system"}, {"content", *instructions}});
    auto input = body.find("input");
    if (input == body.end() || input->is_null()) return invalid_argument("input: is required");
    if (input->is_string()) {
        messages.push_back({{"role", "user"}, {"content", input->get<std::string>()}});
    } else if (input->is_array()) {
        if (input->size() > kMaxItems) return invalid_argument("input: at most " + std::to_string(kMaxItems) + " items");
        for (size_t i = 0; i < input->size(); ++i) {
            const json& item = (*input)[i];
            const std::string where = "input[" + std::to_string(i) + "]";
            if (!item.is_object()) return invalid_argument(where + ": expected an object, got " + type_name(item));
            KITE_ASSIGN_OR_RETURN(auto type, get_string(item, "type"));
            if (type && *type == "function_call") {  // an earlier call of the model, sent back
                KITE_ASSIGN_OR_RETURN(auto call_id, get_string(item, "call_id"));
                KITE_ASSIGN_OR_RETURN(auto name, get_string(item, "name"));
                KITE_ASSIGN_OR_RETURN(auto args, get_string(item, "arguments"));
                if (!name) return invalid_argument(where + ".name: is required");
                messages.push_back({{"role", "assistant"}, {"content", ""},
                                    {"tool_calls", json::array({{{"id", call_id.value_or("")}, {"type", "function"},
                                                                 {"function", {{"name", *name}, {"arguments", args.value_or("{}")}}}}})}});
                continue;
            }
            if (type && *type == "function_call_output") {  // the result of a call
                KITE_ASSIGN_OR_RETURN(auto call_id, get_string(item, "call_id"));
                auto output = item.find("output");
                if (output == item.end() || output->is_null()) return invalid_argument(where + ".output: is required");
                KITE_ASSIGN_OR_RETURN(auto text, content_text(*output, where + ".output"));
                messages.push_back({{"role", "tool"}, {"tool_call_id", call_id.value_or("")}, {"content", text}});
                continue;
            }
            if (type.value_or("message") != "message")
                return invalid_argument(where + ".type: '" + *type + "' items are not supported (message, function_call, function_call_output)");
            KITE_ASSIGN_OR_RETURN(auto role, get_string(item, "role"));
            if (!role) return invalid_argument(where + ".role: is required");
            if (*role != "user" && *role != "system" && *role != "developer" && *role != "assistant")
                return invalid_argument(where + ".role: '" + *role + "' is not one of user, system, developer, assistant");
            auto content = item.find("content");
            if (content == item.end() || content->is_null()) return invalid_argument(where + ".content: is required");
            KITE_ASSIGN_OR_RETURN(auto text, content_text(*content, where + ".content"));
            messages.push_back({{"role", *role}, {"content", text}});
        }
        if (messages.empty()) return invalid_argument("input: must contain at least one item");
    } else {
        return invalid_argument("input: expected a string or a list of input items, got " + type_name(*input));
    }

    // The chat-completions body the rest of the server understands.
    json chat = json::object();
    for (const char* same : {"model", "temperature", "top_p", "stream", "user", "seed", "top_k", "min_p",
                             "repetition_penalty", "presence_penalty", "frequency_penalty", "stop",
                             "chat_template_kwargs", "guided_json", "guided_regex", "guided_choice", "guided_grammar",
                             "ignore_eos", "min_tokens"}) {
        auto it = body.find(same);
        if (it != body.end()) chat[same] = *it;
    }
    if (auto it = body.find("max_output_tokens"); it != body.end()) chat["max_tokens"] = *it;
    if (auto it = body.find("text"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return invalid_argument("text: expected an object, got " + type_name(*it));
        if (auto f = it->find("format"); f != it->end() && !f->is_null()) {
            if (!f->is_object()) return invalid_argument("text.format: expected an object, got " + type_name(*f));
            KITE_ASSIGN_OR_RETURN(auto type, get_string(*f, "type"));
            // Responses puts name/schema/strict beside type; chat nests them under json_schema.
            if (type && *type == "json_schema") {
                json js = *f;
                js.erase("type");
                chat["response_format"] = {{"type", "json_schema"}, {"json_schema", js}};
            } else {
                chat["response_format"] = *f;
            }
        }
    }
    // Function tools: Responses' flat {type, name, parameters} -> chat's {type, function: {...}}.
    json echo_tools = json::array();
    if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
        if (!it->is_array()) return invalid_argument("tools: expected an array of tools, got " + type_name(*it));
        json tools = json::array();
        for (size_t i = 0; i < it->size(); ++i) {
            const json& t = (*it)[i];
            const std::string where = "tools[" + std::to_string(i) + "]";
            if (!t.is_object()) return invalid_argument(where + ": expected an object, got " + type_name(t));
            KITE_ASSIGN_OR_RETURN(auto type, get_string(t, "type"));
            if (type.value_or("") != "function")
                return invalid_argument(where + ".type: '" + type.value_or("") + "' is not supported (only function)");
            KITE_ASSIGN_OR_RETURN(auto name, get_string(t, "name"));
            if (!name || name->empty()) return invalid_argument(where + ".name: is required");
            json f = {{"name", *name}};
            if (t.contains("description")) f["description"] = t["description"];
            if (t.contains("parameters") && !t["parameters"].is_null()) f["parameters"] = t["parameters"];
            tools.push_back({{"type", "function"}, {"function", f}});
            json e = t;
            if (!e.contains("parameters")) e["parameters"] = nullptr;
            if (!e.contains("strict")) e["strict"] = true;
            echo_tools.push_back(e);
        }
        chat["tools"] = tools;
    }
    if (auto it = body.find("tool_choice"); it != body.end() && !it->is_null()) {
        if (it->is_object()) {
            KITE_ASSIGN_OR_RETURN(auto name, get_string(*it, "name"));
            if (!name) return invalid_argument(R"(tool_choice: expected "none", "auto", "required" or {"type": "function", "name": ...})");
            chat["tool_choice"] = {{"type", "function"}, {"function", {{"name", *name}}}};
        } else {
            chat["tool_choice"] = *it;
        }
    }
    chat["messages"] = messages;
    out.chat_body = std::move(chat);

    // What the response object repeats back.
    json& e = out.echo;
    e["instructions"] = instructions ? json(*instructions) : json(nullptr);
    e["temperature"] = body.contains("temperature") ? body["temperature"] : json(1.0);
    e["top_p"] = body.contains("top_p") ? body["top_p"] : json(1.0);
    e["max_output_tokens"] = body.contains("max_output_tokens") ? body["max_output_tokens"] : json(nullptr);
    e["tools"] = echo_tools;
    e["tool_choice"] = body.contains("tool_choice") && !body["tool_choice"].is_null() ? body["tool_choice"] : json("auto");
    e["parallel_tool_calls"] = true;
    e["metadata"] = body.contains("metadata") && body["metadata"].is_object() ? body["metadata"] : json::object();
    e["text"] = {{"format", {{"type", "text"}}}};
    if (auto it = body.find("text"); it != body.end() && it->is_object() && it->contains("format")) e["text"] = *it;
    e["previous_response_id"] = nullptr;
    e["store"] = false;
    e["truncation"] = "disabled";
    e["reasoning"] = {{"effort", nullptr}, {"summary", nullptr}};
    return out;
}

void handle_responses(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    if (Status s = check_model(st, *body); !s.is_ok()) return respond_error(st, req, *ex, s);
    auto tr = translate_responses_request(*body);
    if (!tr.ok()) return respond_error(st, req, *ex, tr.status());
    auto parsed = parse_generation(tr->chat_body, ApiKind::kChat, st.limits);
    if (!parsed.ok()) {
        // Name the Responses field, not the chat one it was mapped to.
        std::string msg = parsed.status().message();
        if (msg.rfind("max_tokens:", 0) == 0) msg = "max_output_tokens:" + msg.substr(11);
        return respond_error(st, req, *ex, invalid_argument(msg));
    }
    auto tools = apply_tools(st, tr->chat_body, parsed->request);
    if (!tools.ok()) return respond_error(st, req, *ex, tools.status());
    json messages = tr->chat_body["messages"];
    prepare_tool_messages(messages);
    if (!tools->active()) tr->chat_body.erase("tools");  // tool_choice "none": the template sees no tools
    auto prompt = render_chat_prompt(st, tr->chat_body, messages);
    if (!prompt.ok()) return respond_error(st, req, *ex, prompt.status());
    std::vector<PreparedPrompt> prompts;
    prompts.push_back(std::move(*prompt));
    launch_generation(st, req, ex, std::move(*parsed), ApiKind::kChat, std::move(prompts),
                      std::make_unique<ResponsesApi>(std::move(tr->echo), std::move(*tools)), "resp_");
}

}  // namespace kite::server
