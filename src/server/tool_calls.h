// Tool calling in the chat API: `tools` and `tool_choice` read and checked; for `required` and a
// named function the output is constrained (a JSON list of {name, parameters}, or the named
// function's arguments); the model's text is parsed into OpenAI tool_calls, from Hermes/Qwen
// `<tool_call>{...}</tool_call>` blocks or Llama 3's bare JSON `{"name": ..., "parameters": ...}`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "server/structured_output.h"

namespace kite::server {

struct ToolConfig {
    nlohmann::json tools = nlohmann::json::array();  // as sent: [{"type": "function", "function": {...}}]
    enum class Choice { kNone, kAuto, kRequired, kNamed } choice = Choice::kAuto;
    std::string named;  // kNamed: the function's name
    bool active() const { return !tools.empty() && choice != Choice::kNone; }
    bool has(const std::string& name) const;
};

struct ToolCall {
    std::string name;
    std::string arguments;  // JSON text
};

struct ParsedOutput {
    std::string content;  // text outside the tool calls
    std::vector<ToolCall> calls;
};

// tools / tool_choice of a chat body (errors name the field); none given -> tools empty.
Result<ToolConfig> parse_tools(const nlohmann::json& body);
// The output constraint of `required` / a named function; nullopt otherwise.
std::optional<ConstraintRequest> tool_constraint(const ToolConfig& cfg);
// The model's whole output read as tool calls (calls of unknown functions are left as text).
ParsedOutput parse_tool_output(const std::string& text, const ToolConfig& cfg);
// What a chat-like handler does after parse_generation: the adapter and response_format / guided_*
// (apply_structured_output), then tools / tool_choice with the constraint that required / a named
// function imply. Errors name the field.
Result<ToolConfig> apply_tools(ServerState& st, const nlohmann::json& body, GenerationRequest& request);
// Assistant messages' tool_calls[].function.arguments as objects, which chat templates expect.
void prepare_tool_messages(nlohmann::json& messages);

// Streaming: text that may be a tool call is held back until the end; the rest streams.
class ToolCallStream {
public:
    explicit ToolCallStream(const ToolConfig* cfg);
    std::string feed(const std::string& delta);  // the content that can go out now
    ParsedOutput finish();                        // what is left, parsed

private:
    const ToolConfig* cfg_;
    std::string held_;
    bool tool_mode_ = false, decided_ = false;
};

}  // namespace kite::server
