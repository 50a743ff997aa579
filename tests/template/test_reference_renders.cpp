// Acceptance: every render in shared/chat_templates/renders.shared.jsonl (made by transformers'
// apply_chat_template) reproduced byte for byte, with strftime_now pinned to 2024-07-26 00:00:00 as
// the README says; cases where HF raised must fail, raise_exception ones with HF's exact message.
// Also the jinja2-generated unit cases of tests/template/jinja_cases.json (make_jinja_cases.py).
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "template/chat_template.h"

namespace {

using ojson = nlohmann::ordered_json;

std::vector<ojson> read_jsonl(const std::string& path) {
    std::ifstream f(path);
    std::vector<ojson> out;
    std::string line;
    while (std::getline(f, line))
        if (!line.empty()) out.push_back(ojson::parse(line));
    return out;
}

kite::RenderOptions pinned_clock() {
    kite::RenderOptions o;
    o.fixed_time = *kite::parse_fixed_time("2024-07-26T00:00:00");
    return o;
}

// Empty string when the case passes, else a description of the difference.
std::string check_case(const ojson& c, const kite::Result<std::string>& r) {
    if (c.contains("error")) {
        if (r.ok()) return "expected an error (" + c["error"].get<std::string>() + "), got output:\n" + *r;
        if (c.value("error_kind", "") == "raise_exception" && r.status().message() != c["error"].get<std::string>())
            return "raise_exception message differs:\n got: " + r.status().message() + "\n want: " + c["error"].get<std::string>();
        return "";
    }
    if (!r.ok()) return "unexpected error: " + r.status().message();
    if (*r != c["output"].get<std::string>()) return "output differs:\n--- got ---\n" + *r + "\n--- want ---\n" + c["output"].get<std::string>();
    return "";
}

TEST(ReferenceRenders, AllSharedCasesMatchTransformers) {
    std::vector<ojson> cases = read_jsonl(std::string(KITE_SHARED_DIR) + "/chat_templates/renders.shared.jsonl");
    ASSERT_EQ(cases.size(), 343u) << "renders.shared.jsonl missing or changed";
    int failures = 0, errors_expected = 0;
    for (const ojson& c : cases) {
        if (c.contains("error")) ++errors_expected;
        auto r = kite::render_chat_template(c["template"].get<std::string>(), c["messages"],
                                            c["add_generation_prompt"].get<bool>(), c["variables"], pinned_clock());
        std::string diff = check_case(c, r);
        if (!diff.empty()) {
            ++failures;
            ADD_FAILURE() << c["id"].get<std::string>() << ": " << diff;
        }
    }
    EXPECT_EQ(errors_expected, 18);
    EXPECT_EQ(failures, 0);
}

TEST(ReferenceRenders, ParsedTemplateRendersRepeatedly) {
    // One ChatTemplate serves many conversations (the server's use): same results as one-shot renders.
    std::vector<ojson> cases = read_jsonl(std::string(KITE_SHARED_DIR) + "/chat_templates/renders.shared.jsonl");
    ASSERT_FALSE(cases.empty());
    auto t = kite::ChatTemplate::parse(cases[0]["template"].get<std::string>());
    ASSERT_TRUE(t.ok()) << t.status().message();
    int n = 0;
    for (const ojson& c : cases) {
        if (c["template_name"] != cases[0]["template_name"]) continue;
        auto r = t->render(c["messages"], c["add_generation_prompt"].get<bool>(), c["variables"], pinned_clock());
        EXPECT_EQ(check_case(c, r), "") << c["id"].get<std::string>();
        ++n;
    }
    EXPECT_GT(n, 5);
}

TEST(JinjaCases, MatchPythonJinja2WithHfSettings) {
    std::ifstream f(std::string(KITE_SOURCE_DIR) + "/tests/template/jinja_cases.json");
    ASSERT_TRUE(f) << "tests/template/jinja_cases.json missing (python3 tests/template/make_jinja_cases.py)";
    ojson cases = ojson::parse(f);
    ASSERT_GT(cases.size(), 100u);
    for (const ojson& c : cases) {
        auto r = kite::render_chat_template(c["template"].get<std::string>(), ojson::array(), false, c["variables"],
                                            pinned_clock());
        EXPECT_EQ(check_case(c, r), "") << c["name"].get<std::string>() << "\ntemplate: " << c["template"].get<std::string>();
    }
}

}  // namespace
