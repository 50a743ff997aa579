// Bad input gives clear errors, never a crash: invalid UTF-8, ids out of range, malformed
// tokenizer.json, unsupported paths; plus what tokenizer_config.json adds.
#include <nlohmann/json.hpp>

#include "tokenizer_test_util.h"

namespace kite::testing {
namespace {

using nlohmann::json;

TEST(TokenizerErrors, InvalidUtf8IsAnError) {
    auto tok = family("gpt2");
    ASSERT_TRUE(tok);
    for (const std::string& bad : {std::string("ab\xFF"), std::string("\xC3"), std::string("\xE0\x80\x80"),
                                  std::string("x\xED\xA0\x80y"), std::string("\xF4\x90\x80\x80")}) {
        auto r = tok->encode(bad, false);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.status().message().find("UTF-8"), std::string::npos) << r.status().message();
    }
}

TEST(TokenizerErrors, IdOutOfRangeIsAnError) {
    auto tok = family("llama2");
    ASSERT_TRUE(tok);
    const std::vector<int32_t> ids = {1, 32000};
    auto r = tok->decode(ids, false);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("32000"), std::string::npos);
    const std::vector<int32_t> neg = {-1};
    EXPECT_FALSE(tok->decode(neg, false).ok());
    EXPECT_EQ(tok->id_to_token(-5), "");
}

TEST(TokenizerErrors, MalformedTokenizerJson) {
    const char* cases[] = {
        R"([])",
        R"({})",
        R"({"model": 3})",
        R"({"model": {"type": "BPE", "vocab": [], "merges": []}})",
        R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})",
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["ab"]}})",
        R"({"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}})",
        R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}})",
        R"({"model": {"type": "Unigram", "vocab": [["a"]]}})",
        R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 7}})",
        R"({"model": {"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"}})",
        R"({"model": {"type": "Nope", "vocab": {}}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "normalizer": {"type": "Unknown"}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "normalizer": {"type": "Replace", "pattern": {"Regex": "("}, "content": ""}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[a"}, "behavior": "Isolated"}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Split", "pattern": {"String": "a"}, "behavior": "Sideways"}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "decoder": {"type": "Strip"}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "post_processor": {"type": "TemplateProcessing", "single": "[CLS] $A", "special_tokens": {}}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "!!!"}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "AAAAAP8="}})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "added_tokens": [{"content": "x"}]})",
        R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "added_tokens": [{"id": 1, "content": 5}]})",
    };
    std::string deep = R"({"type": "Lowercase"})";
    for (int i = 0; i < 100; ++i) deep = R"({"type": "Sequence", "normalizers": [)" + deep + "]}";
    const std::string deep_case = R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}, "normalizer": )" + deep + "}";
    std::vector<std::string> all(std::begin(cases), std::end(cases));
    all.push_back(deep_case);
    for (const std::string& c : all) {
        auto r = Tokenizer::from_json(json::parse(c));
        ASSERT_FALSE(r.ok()) << c;
        EXPECT_FALSE(r.status().message().empty());
        EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "message must be one line";
    }
}

TEST(TokenizerErrors, BadPaths) {
    EXPECT_EQ(load_tokenizer_any("/nonexistent/dir").status().code(), StatusCode::kNotFound);
    auto r = load_tokenizer_any(std::string(KITE_SOURCE_DIR) + "/CMakeLists.txt");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
    EXPECT_TRUE(load_tokenizer_any(kTokDir + "gpt2/tokenizer.json").ok());
    EXPECT_FALSE(Tokenizer::from_file(std::string(KITE_SOURCE_DIR) + "/CMakeLists.txt").ok());
}

// A tokenizer built in memory (as the GGUF loader does) works like one read from a file.
TEST(TokenizerConfig, InMemoryJson) {
    const json tj = json::parse(R"({
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3}, "merges": [["a", "b"]]},
      "added_tokens": [{"id": 3, "content": "<s>", "special": true}],
      "post_processor": {"type": "TemplateProcessing", "single": "<s> $A",
                         "special_tokens": {"<s>": {"id": "<s>", "ids": [3], "tokens": ["<s>"]}}}})");
    const json cfg = json::parse(R"({"bos_token": {"content": "<s>"}, "chat_template": "{{ x }}"})");
    auto r = Tokenizer::from_json(tj, &cfg);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    auto ids = (*r)->encode("abab<s>a", true);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, (std::vector<int32_t>{3, 2, 2, 3, 0}));
    EXPECT_EQ((*r)->bos_token_id(), 3);
    EXPECT_EQ((*r)->chat_template(), "{{ x }}");
    EXPECT_TRUE((*r)->is_special(3));
    EXPECT_FALSE((*r)->is_special(2));
}

TEST(TokenizerConfig, ModelDirReadsConfig) {
    auto l3 = family("llama3");
    ASSERT_TRUE(l3);
    EXPECT_EQ(l3->bos_token(), "<|begin_of_text|>");
    EXPECT_EQ(l3->bos_token_id(), 128000);
    EXPECT_EQ(l3->eos_token_id(), 128001);
    EXPECT_FALSE(l3->chat_template().empty());
    auto l2 = family("llama2");
    ASSERT_TRUE(l2);
    EXPECT_EQ(l2->bos_token(), "<s>");  // {"content": ...} form
    EXPECT_EQ(l2->bos_token_id(), 1);
    EXPECT_EQ(l2->eos_token_id(), 2);
    auto q = family("qwen2.5");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->bos_token_id(), -1);  // null in its config
    EXPECT_EQ(q->eos_token(), "<|im_end|>");
    EXPECT_EQ(q->eos_token_id(), 151645);
    EXPECT_EQ(q->vocab_size(), 151665);
    EXPECT_FALSE(q->is_special(151657));  // <tool_call> is added but not special
    EXPECT_TRUE(q->is_special(151643));
}

}  // namespace
}  // namespace kite::testing
