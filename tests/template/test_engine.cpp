// Unit tests of the Jinja engine's pieces with hand-worked expectations: HF preprocessing, sandbox
// refusals, resource limits, error reporting, Python number formatting, and the clock pin.
#include <cstdint>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "template/chat_template.h"
#include "template/value.h"

namespace {

using ojson = nlohmann::ordered_json;

kite::Result<std::string> render(const std::string& tmpl, const ojson& vars = ojson::object(),
                                 const ojson& messages = ojson::array(), kite::RenderOptions opts = {}) {
    return kite::render_chat_template(tmpl, messages, false, vars, opts);
}

std::string ok(const kite::Result<std::string>& r) { return r.ok() ? *r : "ERROR: " + r.status().message(); }

TEST(Preprocess, NullKeysAreDropped) {
    ojson msgs = ojson::parse(R"([{"role": "assistant", "content": null, "tool_calls": [{"id": null}]}])");
    EXPECT_EQ(ok(render("{{ messages[0].content is defined }} {{ messages[0].tool_calls[0].id is none }}", {}, msgs)),
              "False True");  // only top-level message keys are dropped
}

TEST(Preprocess, ReasoningAliasing) {
    ojson msgs = ojson::parse(R"([{"role": "assistant", "content": "c", "reasoning": "r"},
                                  {"role": "assistant", "content": "d", "reasoning_content": null, "thinking": "t"}])");
    // {"thinking": r, **message, "reasoning_content": r}: thinking first, reasoning_content last.
    EXPECT_EQ(ok(render("{{ messages[0] | tojson }}\n{{ messages[1] | tojson }}", {}, msgs)),
              R"({"thinking": "r", "role": "assistant", "content": "c", "reasoning": "r", "reasoning_content": "r"})"
              "\n"
              R"({"thinking": "t", "role": "assistant", "content": "d", "reasoning_content": "t"})");
}

TEST(Preprocess, VariablesAreGlobalsAndKeepKeyOrder) {
    ojson vars = ojson::parse(R"({"bos_token": "<s>", "tools": [{"type": "function", "function": {"name": "f"}}]})");
    EXPECT_EQ(ok(render("{{ bos_token }}{{ tools[0] | tojson }}{{ add_generation_prompt }}", vars)),
              R"(<s>{"type": "function", "function": {"name": "f"}}False)");
}

TEST(Preprocess, MessagesMustBeAnArray) {
    auto r = kite::render_chat_template("x", ojson::object(), false, ojson::object());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("messages"), std::string::npos);
}

TEST(Sandbox, MutatingMethodsAreRefused) {
    for (const char* t : {"{% set l = [1] %}{{ l.append(2) }}", "{% set d = {} %}{{ d.update({'a': 1}) }}",
                          "{% set l = [1] %}{{ l.pop() }}", "{% set d = {'a': 1} %}{{ d.clear() }}"}) {
        auto r = render(t);
        ASSERT_FALSE(r.ok()) << t;
        EXPECT_NE(r.status().message().find("unsafe"), std::string::npos) << r.status().message();
    }
}

TEST(Sandbox, UnsupportedTagsNameThemselves) {
    for (const char* tag : {"include", "import", "extends"}) {
        auto r = render(std::string("{% ") + tag + " 'x' %}");
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.status().message().find(tag), std::string::npos) << r.status().message();
    }
    auto r = render("{% do x %}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("'do'"), std::string::npos) << r.status().message();
}

TEST(Limits, RecursionIsBounded) {
    kite::RenderOptions o;
    o.max_recursion_depth = 50;
    auto r = render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {}, ojson::array(), o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("recursion"), std::string::npos) << r.status().message();
    // 40 levels fit under a limit of 50.
    EXPECT_EQ(ok(render("{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{% else %}{{ n }}{% endif %}{% endmacro %}{{ f(0) }}",
                        {}, ojson::array(), o)),
              "40");
}

TEST(Limits, OutputSizeIsBounded) {
    kite::RenderOptions o;
    o.max_output_bytes = 1000;
    EXPECT_FALSE(render("{% for i in range(200) %}xxxxxxxxxx{% endfor %}", {}, ojson::array(), o).ok());
    EXPECT_FALSE(render("{{ 'x' * 5000 }}", {}, ojson::array(), o).ok());
    // Doubling a string inside a loop is stopped by the size check, not by memory exhaustion.
    EXPECT_FALSE(render("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", {},
                        ojson::array(), o).ok());
    EXPECT_EQ(ok(render("{{ 'x' * 10 }}", {}, ojson::array(), o)), "xxxxxxxxxx");
}

TEST(Limits, RepeatSizesAreCheckedForOverflow) {
    // size * n would wrap to a small number in 64 bits (4 * 2^62 = 2^64): refused, not allocated.
    for (const char* t : {"{{ 'abcd' * 4611686018427387904 }}", "{{ 4611686018427387904 * 'abcd' }}",
                          "{{ ['a', 'b', 'c', 'd'] * 4611686018427387904 }}", "{{ ('a', 'b', 'c', 'd') * 4611686018427387904 }}"}) {
        auto r = render(t, {}, ojson::array());
        ASSERT_FALSE(r.ok()) << t;
        EXPECT_NE(r.status().message().find("overflows the size of the result"), std::string::npos) << r.status().message();
    }
    // A list's copies count their strings' bytes, not only their items.
    kite::RenderOptions o;
    o.max_output_bytes = 1000;
    auto r = render("{{ (['" + std::string(100, 'y') + "'] * 20) | length }}", {}, ojson::array(), o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("too large"), std::string::npos) << r.status().message();
    EXPECT_EQ(ok(render("{{ (['ab'] * 3) | join(',') }}", {}, ojson::array(), o)), "ab,ab,ab");
    // Empty sequences times a huge count are empty at once (fuzz_template found this one looping).
    EXPECT_EQ(ok(render("[{{ '' * 4611686018427387904 }}]{{ (range(0) * 854775807) | length }}{{ ([] * 9223372036854775807) | length }}")),
              "[]00");
    // A repeated list is charged a value per item: a million values from a two-item list is over 1 MB.
    kite::RenderOptions m;
    m.max_output_bytes = 1 << 20;
    EXPECT_FALSE(render("{{ (['a', ''] * 462903) | length }}", {}, ojson::array(), m).ok());
}

#if defined(__SANITIZE_ADDRESS__)
#define KITE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KITE_TEST_ASAN 1
#endif
#endif

TEST(Limits, AllocationFailureInARenderIsATemplateError) {
#ifdef KITE_TEST_ASAN
    GTEST_SKIP() << "AddressSanitizer reports a 1 TiB allocation instead of throwing std::bad_alloc";
#endif
    if (std::FILE* f = std::fopen("/proc/sys/vm/overcommit_memory", "r")) {
        const int mode = std::fgetc(f);
        std::fclose(f);
        if (mode == '1') GTEST_SKIP() << "vm.overcommit_memory=1: a 1 TiB allocation would succeed";
    }
    // With the size limit lifted, the 1 TiB string fails to allocate: a template error, not an abort.
    kite::RenderOptions o;
    o.max_output_bytes = SIZE_MAX;
    auto r = render("{{ 'x' * 1099511627776 }}", {}, ojson::array(), o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("out of memory while rendering"), std::string::npos) << r.status().message();
}

TEST(Limits, LoopIterationsAreBounded) {
    kite::RenderOptions o;
    o.max_loop_iterations = 1000;
    auto r = render("{% for i in range(1000000000) %}{% endfor %}", {}, ojson::array(), o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("iterations"), std::string::npos) << r.status().message();
    EXPECT_EQ(ok(render("{% for i in range(10) %}{{ i }}{% endfor %}", {}, ojson::array(), o)), "0123456789");
}

TEST(Limits, DeepNestingIsASyntaxErrorNotACrash) {
    std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
    EXPECT_FALSE(render(deep).ok());
    std::string ifs;
    for (int i = 0; i < 3000; ++i) ifs += "{% if true %}";
    EXPECT_FALSE(render(ifs).ok());
}

TEST(Limits, DeeplyNestedValuesAreRefused) {
    // Building a list a million levels deep would overflow the stack when printed or freed.
    auto r = render("{% set ns = namespace(l=[]) %}{% for i in range(1000000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l | length }}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("nested too deeply"), std::string::npos) << r.status().message();
    ojson deep = ojson::array();
    for (int i = 0; i < 2000; ++i) deep = ojson::array({std::move(deep)});
    EXPECT_GT(kite::json_nesting_depth(deep), kite::kMaxChatJsonDepth);
    EXPECT_FALSE(render("{{ x }}", ojson{{"x", std::move(deep)}}).ok());
}

TEST(Errors, RaiseExceptionMessageIsExact) {
    auto r = render("{% macro check(m) %}{% if m != 'ok' %}{{ raise_exception('Bad role: ' + m + '!') }}{% endif %}{% endmacro %}"
                    "{% for m in ['ok', 'tool'] %}{{ check(m) }}{% endfor %}");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "Bad role: tool!");
}

TEST(Errors, SyntaxErrorsGiveTheLine) {
    auto r = render("line one\n{% if x %}\n{{ 1 + }}\n{% endif %}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("line 3"), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "one-line message expected";
}

TEST(Errors, UndefinedUsesRaiseLikeJinja) {
    auto r = render("{{ messages[0].content + 'x' }}", {}, ojson::parse(R"([{"role": "user"}])"));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("'dict object' has no attribute 'content'"), std::string::npos) << r.status().message();
    EXPECT_EQ(ok(render("[{{ missing }}][{{ missing | length }}][{% for x in missing %}{% endfor %}]")), "[][0][]");
}

TEST(Errors, IntegerOverflowIsReported) {
    auto r = render("{{ 9223372036854775807 + 1 }}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("overflow"), std::string::npos);
}

TEST(PythonFormatting, FloatRepr) {
    using kite::tmpl::py_float_repr;
    EXPECT_EQ(py_float_repr(0.1), "0.1");
    EXPECT_EQ(py_float_repr(1.0), "1.0");
    EXPECT_EQ(py_float_repr(1e16), "1e+16");
    EXPECT_EQ(py_float_repr(1e15), "1000000000000000.0");
    EXPECT_EQ(py_float_repr(1e-5), "1e-05");
    EXPECT_EQ(py_float_repr(0.0001), "0.0001");
    EXPECT_EQ(py_float_repr(-2.5e-300), "-2.5e-300");
    EXPECT_EQ(py_float_repr(0.1 + 0.2), "0.30000000000000004");
    EXPECT_EQ(py_float_repr(-0.0), "-0.0");
    EXPECT_EQ(py_float_repr(123456789012345678.0), "1.2345678901234568e+17");
}

TEST(PythonFormatting, StringRepr) {
    using kite::tmpl::py_str_repr;
    EXPECT_EQ(py_str_repr("a"), "'a'");
    EXPECT_EQ(py_str_repr("it's"), "\"it's\"");
    EXPECT_EQ(py_str_repr("'\""), "'\\'\"'");
    EXPECT_EQ(py_str_repr("a\nb\x01"), "'a\\nb\\x01'");
    EXPECT_EQ(py_str_repr("é"), "'é'");
}

TEST(Clock, FixedTimeParsing) {
    auto t = kite::parse_fixed_time("2024-07-26T00:00:00");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, 1721952000);  // date -u -d 2024-07-26 +%s
    EXPECT_EQ(*kite::parse_fixed_time("2024-07-26"), 1721952000);
    EXPECT_EQ(*kite::parse_fixed_time("2024-07-26 01:02:03"), 1721952000 + 3723);
    EXPECT_EQ(*kite::parse_fixed_time("1721952000"), 1721952000);
    EXPECT_FALSE(kite::parse_fixed_time("yesterday").ok());
    EXPECT_FALSE(kite::parse_fixed_time("2024-13-01").ok());
}

TEST(Clock, StrftimeNowUsesThePin) {
    kite::RenderOptions o;
    o.fixed_time = *kite::parse_fixed_time("2024-07-26T00:00:00");
    EXPECT_EQ(ok(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%d %B %Y') }}|{{ strftime_now('%Y-%m-%d') }}", {},
                        ojson::array(), o)),
              "26 Jul 2024|26 July 2024|2024-07-26");
    // Unpinned: the real clock, a four-digit year.
    std::string year = ok(render("{{ strftime_now('%Y') }}"));
    EXPECT_EQ(year.size(), 4u);
}

TEST(Api, SortedJsonOverloadRenders) {
    nlohmann::json msgs = nlohmann::json::parse(R"([{"role": "user", "content": "hi"}])");
    auto r = kite::render_chat_template("{% for m in messages %}{{ m.role }}:{{ m.content }}{% endfor %}", msgs, true,
                                        nlohmann::json::object());
    EXPECT_EQ(ok(r), "user:hi");
}

TEST(Whitespace, HfSettings) {
    // trim_blocks eats the newline after a block tag; lstrip_blocks the indentation before it;
    // keep_trailing_newline=False drops one final newline.
    EXPECT_EQ(ok(render("{% for i in [1, 2] %}\n    {% if i %}\n{{ i }}\n    {% endif %}\n{% endfor %}\n")), "1\n2\n");
    EXPECT_EQ(ok(render("a\n\n")), "a\n");
    EXPECT_EQ(ok(render("x {{- ' y ' -}} z")), "x y z");
}

}  // namespace
