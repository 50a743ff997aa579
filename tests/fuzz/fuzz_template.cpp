// libFuzzer target: arbitrary bytes as a chat template, rendered over a small fixed conversation
// with tight sandbox limits. Parsing and rendering must fail cleanly or succeed; never crash, hang
// or exhaust memory.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "template/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const nlohmann::ordered_json kMessages = nlohmann::ordered_json::parse(R"([
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi <b> 'q' \"d\" é"},
        {"role": "assistant", "content": null, "reasoning_content": "think",
         "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"a": 1, "b": [1.5, null]}}}]},
        {"role": "tool", "content": "42"},
        {"role": "user", "content": [{"type": "text", "text": "part"}, {"type": "image"}]}])");
    static const nlohmann::ordered_json kVariables = nlohmann::ordered_json::parse(R"({
        "bos_token": "<s>", "eos_token": "</s>", "documents": null, "enable_thinking": true,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                   "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}]})");
    kite::RenderOptions opts;
    opts.fixed_time = 1721952000;
    opts.max_output_bytes = 1 << 20;
    opts.max_recursion_depth = 64;
    opts.max_loop_iterations = 100000;
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto t = kite::ChatTemplate::parse(text);
    if (!t.ok()) return 0;
    for (bool gen : {false, true}) (void)t->render(kMessages, gen, kVariables, opts);
    return 0;
}
