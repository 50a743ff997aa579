// Tool-call parsing (Hermes/Qwen blocks, Llama 3 JSON), the streaming hold-back, tool_choice
// checks and the EBNF -> Lark translation. Expected values are written from the formats' specs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/tool_calls.h"
#include "structured/grammar.h"

namespace kite::server {
namespace {

using nlohmann::json;

ToolConfig config(const std::string& choice = "auto") {
    json body = {{"tools", json::array({{{"type", "function"}, {"function", {{"name", "get_weather"}}}},
                                        {{"type", "function"}, {"function", {{"name", "get_time"}}}}})},
                 {"tool_choice", choice}};
    auto c = parse_tools(body);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return *c;
}

TEST(ToolCalls, HermesBlocks) {
    ToolConfig cfg = config();
    ParsedOutput p = parse_tool_output(
        "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
        "<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>", cfg);
    ASSERT_EQ(p.calls.size(), 2u);
    EXPECT_EQ(p.calls[0].name, "get_weather");
    EXPECT_EQ(json::parse(p.calls[0].arguments), json({{"city", "Paris"}}));
    EXPECT_EQ(p.calls[1].name, "get_time");
    EXPECT_EQ(p.content, "Let me check.");
}

TEST(ToolCalls, Llama3Json) {
    ToolConfig cfg = config();
    ParsedOutput p = parse_tool_output("<|python_tag|>{\"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\"}}", cfg);
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(json::parse(p.calls[0].arguments), json({{"zone", "UTC"}}));
    p = parse_tool_output("{\"name\": \"get_time\", \"parameters\": {}}; {\"name\": \"get_weather\", \"parameters\": {}}", cfg);
    EXPECT_EQ(p.calls.size(), 2u);
    // Unknown functions and plain JSON are content.
    p = parse_tool_output("{\"name\": \"rm_rf\", \"parameters\": {}}", cfg);
    EXPECT_TRUE(p.calls.empty());
    EXPECT_EQ(p.content, "{\"name\": \"rm_rf\", \"parameters\": {}}");
    p = parse_tool_output("Hello there", cfg);
    EXPECT_TRUE(p.calls.empty());
    EXPECT_EQ(p.content, "Hello there");
}

TEST(ToolCalls, StreamHoldsBackOnlyWhatMayBeACall) {
    ToolConfig cfg = config();
    ToolCallStream s(&cfg);
    EXPECT_EQ(s.feed("Sure"), "Sure");
    EXPECT_EQ(s.feed(", <tool"), ", ");  // "<tool" may start "<tool_call>"
    EXPECT_EQ(s.feed("_call>{\"name\": \"get_time\", "), "");
    EXPECT_EQ(s.feed("\"arguments\": {}}</tool_call>"), "");
    ParsedOutput p = s.finish();
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(p.calls[0].name, "get_time");
    ToolCallStream t(&cfg);
    EXPECT_EQ(t.feed("<to"), "");
    EXPECT_EQ(t.feed("y> story"), "<toy> story");
    EXPECT_EQ(t.finish().content, "");
}

TEST(ToolCalls, ChoiceChecks) {
    json tools = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
    EXPECT_FALSE(parse_tools({{"tools", tools}, {"tool_choice", "sometimes"}}).ok());
    EXPECT_FALSE(parse_tools({{"tools", tools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "g"}}}}}}).ok());
    EXPECT_FALSE(parse_tools({{"tool_choice", "required"}}).ok());
    auto named = parse_tools({{"tools", tools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}});
    ASSERT_TRUE(named.ok());
    auto c = tool_constraint(*named);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(json::parse(c->spec.data), json({{"type", "object"}}));
    ParsedOutput p = parse_tool_output("{\"a\": 1}", *named);
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(p.calls[0].name, "f");
    EXPECT_FALSE(tool_constraint(config("auto")).has_value());
}

TEST(Ebnf, ToLark) {
    auto g = structured::ebnf_to_lark("root ::= \"a\" item-list{2,3} [x/y]* .\nitem-list ::= (\"b\" | \"c\")+ # comment\n");
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(*g, "start: \"a\" (item_list)~2..3 /[x\\/y]/* /(?s:.)/\nitem_list: (\"b\" | \"c\")+\n");
    EXPECT_EQ(*structured::ebnf_to_lark("start: \"x\"\n"), "start: \"x\"\n");  // Lark passes through
    auto bad = structured::ebnf_to_lark("root ::= (\"a\"\n");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("unclosed"), std::string::npos);
    EXPECT_FALSE(structured::ebnf_to_lark("thing ::= \"a\"\n").ok());  // no root
}

}  // namespace
}  // namespace kite::server
