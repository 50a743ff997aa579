// The grammar mask on a real vocabulary (stories260K's tokenizer.json): the first tokens allowed
// for a choice / regex constraint are exactly those whose text is a prefix of an allowed output, and
// feeding a whole allowed output leaves only EOS.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "structured/grammar.h"

namespace kite::structured {
namespace {

std::string shared_dir() {
    const char* d = std::getenv("KITE_SHARED_DIR");
    return d ? d : "../shared";
}

std::shared_ptr<const Tokenizer> stories_tokenizer() {
    auto t = Tokenizer::from_model_dir(shared_dir() + "/models/stories260K");
    return t.ok() ? std::shared_ptr<const Tokenizer>(*t) : nullptr;
}

std::set<int32_t> allowed(LogitsProcessor& p, int64_t vocab) {
    std::vector<float> logits(static_cast<size_t>(vocab), 0.0f);
    p.apply(logits);
    std::set<int32_t> out;
    for (size_t i = 0; i < logits.size(); ++i)
        if (!std::isinf(logits[i])) out.insert(static_cast<int32_t>(i));
    return out;
}

TEST(StructuredMask, ChoiceOnStories260K) {
    auto tok = stories_tokenizer();
    if (!tok) GTEST_SKIP() << "stories260K not found under KITE_SHARED_DIR";
    auto compiler = GrammarCompiler::create(tok, tok->vocab_size(), {tok->eos_token_id()});
    ASSERT_TRUE(compiler.ok()) << compiler.status().message();
    ConstraintSpec spec;
    spec.kind = ConstraintKind::kChoice;
    spec.choices = {"yes", "no"};
    auto factory = (*compiler)->compile(spec);
    ASSERT_TRUE(factory.ok()) << factory.status().message();
    auto proc = (*factory)();
    const auto bytes = vocab_bytes(*tok);
    std::set<int32_t> expected;
    for (int32_t id = 0; id < tok->vocab_size(); ++id) {
        const std::string& b = bytes[static_cast<size_t>(id)];
        if (!b.empty() && (std::string("yes").rfind(b, 0) == 0 || std::string("no").rfind(b, 0) == 0)) expected.insert(id);
    }
    std::set<int32_t> got = allowed(*proc, tok->vocab_size());
    std::string names;
    for (int32_t id : got) names += "[" + tok->id_to_token(id) + "|" + bytes[static_cast<size_t>(id)] + "] ";
    EXPECT_EQ(got, expected) << names;
    // "n" then "o": only EOS remains.
    auto n = tok->token_to_id("n"), o = tok->token_to_id("o");
    ASSERT_TRUE(n && o);
    proc->accept(*n);
    std::set<int32_t> after_n;
    for (int32_t id = 0; id < tok->vocab_size(); ++id)
        if (bytes[static_cast<size_t>(id)] == "o") after_n.insert(id);
    EXPECT_EQ(allowed(*proc, tok->vocab_size()), after_n);
    proc->accept(*o);
    EXPECT_EQ(allowed(*proc, tok->vocab_size()), std::set<int32_t>({tok->eos_token_id()}));
}

}  // namespace
}  // namespace kite::structured

namespace kite::structured {
namespace {
// Metaspace tokens keep their space; byte-fallback tokens are one byte (stories260K's vocabulary,
// checked against its tokenizer.json: "▁o" is " o", "<0x0A>" is "\n").
TEST(StructuredMask, VocabBytesStories260K) {
    auto tok = stories_tokenizer();
    if (!tok) GTEST_SKIP() << "stories260K not found under KITE_SHARED_DIR";
    const auto bytes = vocab_bytes(*tok);
    EXPECT_EQ(bytes[static_cast<size_t>(*tok->token_to_id("\xE2\x96\x81o"))], " o");
    EXPECT_EQ(bytes[static_cast<size_t>(*tok->token_to_id("o"))], "o");
    EXPECT_EQ(bytes[static_cast<size_t>(*tok->token_to_id("<0x0A>"))], "\n");
    EXPECT_EQ(bytes[2], "\xFF</s>");
}
}  // namespace
}  // namespace kite::structured
