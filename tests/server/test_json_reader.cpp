// The depth-bounded body reader: brackets inside strings (escaped quotes included) do not count,
// the limit is exact, and a body millions of levels deep is refused by the scan without being built.
#include <gtest/gtest.h>

#include <string>

#include "server/json_reader.h"

namespace kite::server {
namespace {

std::string nested(int n, const std::string& open, const std::string& close, const std::string& inner = "1") {
    std::string s;
    for (int i = 0; i < n; ++i) s += open;
    s += inner;
    for (int i = 0; i < n; ++i) s += close;
    return s;
}

TEST(JsonReader, DepthCountsArraysAndObjectsNotStrings) {
    EXPECT_EQ(json_depth_up_to("1", 10), 0);
    EXPECT_EQ(json_depth_up_to("{}", 10), 1);
    EXPECT_EQ(json_depth_up_to("[[1],[[2]]]", 10), 3);
    EXPECT_EQ(json_depth_up_to(R"({"a": "[[[[{{{{", "b": [1]})", 10), 2);
    EXPECT_EQ(json_depth_up_to(R"({"a": "x\"[[[[", "b": "\\", "c": [[]]})", 10), 3);  // escaped quote, then backslash
    // Stops counting past the limit.
    EXPECT_EQ(json_depth_up_to(nested(1000, "[", "]"), 64), 65);
}

TEST(JsonReader, TheLimitIsExact) {
    // The body object is level 1: 63 more levels inside it are allowed, 64 are not.
    EXPECT_TRUE(read_json_body("{\"x\": " + nested(63, "[", "]") + "}").ok());
    auto r = read_json_body("{\"x\": " + nested(64, "[", "]") + "}");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "request body: JSON nested more than 64 levels deep (limit --max-json-depth)");
    EXPECT_TRUE(read_json_body("{\"x\": " + nested(9, "{\"a\":", "}") + "}", 10).ok());
    EXPECT_FALSE(read_json_body("{\"x\": " + nested(10, "{\"a\":", "}") + "}", 10).ok());
}

TEST(JsonReader, MillionsOfLevelsAreRefusedWithoutBeingBuilt) {
    const std::string deep = "{\"junk\": " + nested(2000000, "[", "]") + "}";
    auto r = read_json_body(deep);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("nested more than 64 levels"), std::string::npos);
    // Unclosed, too: the scan does not need the closing brackets.
    EXPECT_FALSE(read_json_body("{\"junk\": " + std::string(1000000, '[')).ok());
}

TEST(JsonReader, OtherErrorsNameWhatIsWrong) {
    EXPECT_NE(read_json_body("{\"a\":").status().message().find("request body is not valid JSON: parse error"),
              std::string::npos);
    EXPECT_EQ(read_json_body("[1]").status().message(), "request body must be a JSON object, got an array");
    EXPECT_EQ(read_json_body("\"s\"").status().message(), "request body must be a JSON object, got a string");
    EXPECT_TRUE(read_json_body("{\"a\": [1, {\"b\": null}]}").ok());
}

}  // namespace
}  // namespace kite::server
