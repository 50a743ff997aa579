// `kite render-template --jsonl` end to end: one output line per input line, bad lines answered with
// an error while the rest go on, the clock pinned by KITE_FIXED_TIME or a per-line fixed_time.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

std::vector<nlohmann::json> run_kite(const std::string& input, const std::string& env = "") {
    std::string in_path = ::testing::TempDir() + "/kite_render_in.jsonl";
    std::ofstream(in_path) << input;
    std::string cmd = env + " '" + std::string(KITE_BINARY) + "' render-template --jsonl < '" + in_path + "'";
    std::vector<nlohmann::json> out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << cmd;
    size_t b = 0;
    for (size_t e = text.find('\n'); e != std::string::npos; b = e + 1, e = text.find('\n', b))
        out.push_back(nlohmann::json::parse(text.substr(b, e - b)));
    return out;
}

TEST(RenderTemplateCli, OneLinePerRequestAndBadLinesDoNotStopTheRest) {
    std::string input =
        R"({"template": "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}>{% endif %}", "messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": true, "variables": {}})"
        "\n"
        "this is not json\n"
        R"({"template": "{{ raise_exception('nope: ' ~ x) }}", "messages": [], "variables": {"x": 1}})"
        "\n"
        R"({"template": "{% if %}", "messages": []})"
        "\n"
        R"({"template": "{{ strftime_now('%d %b %Y') }}", "messages": [], "fixed_time": "2023-01-02T00:00:00"})"
        "\n";
    auto out = run_kite(input);
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out[0].value("output", "?"), "[user]hi>");
    EXPECT_TRUE(out[1].contains("error"));
    EXPECT_EQ(out[2].value("error", "?"), "nope: 1");
    EXPECT_TRUE(out[3].contains("error"));
    EXPECT_EQ(out[4].value("output", "?"), "02 Jan 2023");
}

TEST(RenderTemplateCli, EnvironmentPinsTheClock) {
    auto out = run_kite(R"({"template": "{{ strftime_now('%Y-%m-%d') }}", "messages": []})" "\n",
                        "KITE_FIXED_TIME=2024-07-26T00:00:00");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].value("output", "?"), "2024-07-26");
}

}  // namespace
