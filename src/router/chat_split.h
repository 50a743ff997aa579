// The frontend/backend split for chat: the router renders a chat request with the model's template,
// tokenizes it, and sends the backend a /v1/completions request of token ids; the backend's answer
// (whole or streamed) is rewritten into chat.completion form. Only plain chats qualify (text
// messages, no tools / structured output / logprobs / n > 1, an explicit max_tokens); the rest is
// forwarded as sent.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kite {
class Tokenizer;
}

namespace kite::router {

struct ChatAsCompletion {
    std::string body;  // the /v1/completions request
    bool stream = false;
};

// nullopt: forward the chat request unchanged.
// `chat_template`: the template the backends render with (their --chat-template); empty: the tokenizer's.
std::optional<ChatAsCompletion> chat_to_completion(const Tokenizer& tok, const std::string& chat_template,
                                                  const std::string& chat_body);

// A completion response body -> a chat.completion body (same id, model, usage, finish reasons).
std::string completion_to_chat(const std::string& completion_body);

// One streamed completion event's data (without "data: ") -> the chat chunk event(s) to send,
// each "data: ...\n\n". `first` prepends the assistant role delta, as OpenAI streams open.
std::string completion_event_to_chat(std::string_view data, bool first);

}  // namespace kite::router
