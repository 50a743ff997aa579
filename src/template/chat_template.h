// Rendering a model's Jinja chat template as transformers' apply_chat_template does (sandboxed,
// trim_blocks + lstrip_blocks, loop controls, HF's tojson / raise_exception / strftime_now).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace kite {

namespace tmpl {
struct TemplateAst;
}

struct RenderOptions {
    // strftime_now reads this instead of the clock when set (seconds since epoch, local time).
    std::optional<int64_t> fixed_time;
    size_t max_output_bytes = 16u << 20;
    int max_recursion_depth = 256;
    int64_t max_loop_iterations = 10'000'000;
};

// messages: JSON array of {role, content (string | list of parts), ...}. variables: extra globals
// (bos_token, eos_token, tools, documents, enable_thinking, ...). HF's preprocessing (null keys
// dropped, reasoning_content aliasing) is applied here. A template's raise_exception(msg) gives
// an error whose message is exactly msg.
Result<std::string> render_chat_template(std::string_view template_text, const nlohmann::json& messages,
                                         bool add_generation_prompt, const nlohmann::json& variables,
                                         const RenderOptions& options = {});

// The same with JSON whose objects keep their key order. Prefer this one: tojson prints keys in
// the caller's order (as Python dicts do), while nlohmann::json above has already sorted them.
Result<std::string> render_chat_template(std::string_view template_text, const nlohmann::ordered_json& messages,
                                         bool add_generation_prompt, const nlohmann::ordered_json& variables,
                                         const RenderOptions& options = {});

// A template parsed once and rendered many times (a server renders its model's template per request).
// Immutable after parse(), so one instance may be rendered from several threads at once.
class ChatTemplate {
public:
    static Result<ChatTemplate> parse(std::string_view template_text);
    Result<std::string> render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                               const nlohmann::ordered_json& variables, const RenderOptions& options = {}) const;

private:
    std::shared_ptr<const tmpl::TemplateAst> ast_;
};

// Nesting depth of a JSON value, computed without recursion (copying or converting a JSON value is
// recursive in nlohmann, so callers check untrusted input against kMaxChatJsonDepth first).
constexpr int kMaxChatJsonDepth = 512;
int json_nesting_depth(const nlohmann::ordered_json& j);

// Parses a date-time pin for strftime_now: "2024-07-26T00:00:00", "2024-07-26 00:00:00",
// "2024-07-26", or integer seconds since the epoch. Returns naive seconds (see RenderOptions).
Result<int64_t> parse_fixed_time(std::string_view text);

}  // namespace kite
