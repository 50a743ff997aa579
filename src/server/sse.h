// Server-sent events framing. OpenAI: "data: {json}\n\n" ... "data: [DONE]\n\n"; rtp-llm's native
// API: "data:{json}\n\n" ... "data:[done]\n\n".
#pragma once

#include <string>
#include <string_view>

namespace kite::server {

inline std::string sse_data(std::string_view payload, bool space_after_colon = true) {
    std::string s = space_after_colon ? "data: " : "data:";
    s += payload;
    s += "\n\n";
    return s;
}
inline std::string sse_openai_done() { return "data: [DONE]\n\n"; }
inline std::string sse_native_done() { return "data:[done]\n\n"; }

}  // namespace kite::server
