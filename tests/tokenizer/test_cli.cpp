// `kite tokenize` / `kite detokenize --jsonl` through the real binary: one output line per input
// line, bad lines answered with {"error": ...}, output always valid JSON/UTF-8.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tokenizer_test_util.h"

namespace kite::testing {
namespace {

using nlohmann::json;

std::vector<std::string> run_kite(const std::string& args, const std::string& input, int* rc) {
    const auto in_path = std::filesystem::temp_directory_path() / ("kite_tok_cli_" + std::to_string(::getpid()));
    { std::ofstream(in_path, std::ios::binary) << input; }
    const std::string cmd = std::string(KITE_BINARY) + " " + args + " < " + in_path.string() + " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    for (size_t n; p && (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
    *rc = p ? pclose(p) : -1;
    std::filesystem::remove(in_path);
    std::vector<std::string> lines;
    for (size_t pos = 0, e; (e = out.find('\n', pos)) != std::string::npos; pos = e + 1) lines.push_back(out.substr(pos, e - pos));
    return lines;
}

class TokenizeCli : public ::testing::Test {
protected:
    void SetUp() override {
        if (!std::filesystem::exists(KITE_BINARY)) GTEST_SKIP() << "kite binary not built";
    }
};

TEST_F(TokenizeCli, TokenizeLines) {
    int rc = 0;
    const std::string input =
        "{\"text\": \"Hello world\"}\n"
        "{\"text\": \"Hello world\", \"add_special_tokens\": false}\n"
        "not json\n"
        "{\"text\": 5}\n"
        "{\"text\": \"<|eot_id|>\\u00e9\"}\n";
    auto lines = run_kite("tokenize --model " + kTokDir + "llama3 --jsonl", input, &rc);
    EXPECT_EQ(rc, 0);
    ASSERT_EQ(lines.size(), 5u);
    // Meta's documented ids for "Hello world" (shared/tokenizers/README.md), BOS 128000.
    EXPECT_EQ(json::parse(lines[0])["ids"], json::parse("[128000, 9906, 1917]"));
    EXPECT_EQ(json::parse(lines[1])["ids"], json::parse("[9906, 1917]"));
    EXPECT_TRUE(json::parse(lines[2]).contains("error"));
    EXPECT_TRUE(json::parse(lines[3]).contains("error"));
    EXPECT_EQ(json::parse(lines[4])["ids"][1], 128009);
}

TEST_F(TokenizeCli, DetokenizeLines) {
    int rc = 0;
    const std::string input =
        "{\"ids\": [128000, 9906, 1917]}\n"
        "{\"ids\": [128000, 9906, 1917], \"skip_special_tokens\": true}\n"
        "{\"ids\": [99999999]}\n"
        "{\"ids\": [127]}\n";  // a lone byte: U+FFFD, still valid UTF-8 JSON
    auto lines = run_kite("detokenize --model " + kTokDir + "llama3/tokenizer.json --jsonl", input, &rc);
    EXPECT_EQ(rc, 0);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(json::parse(lines[0])["text"], "<|begin_of_text|>Hello world");
    EXPECT_EQ(json::parse(lines[1])["text"], "Hello world");
    EXPECT_TRUE(json::parse(lines[2]).contains("error"));
    EXPECT_EQ(json::parse(lines[3])["text"], "\xEF\xBF\xBD");
}

TEST_F(TokenizeCli, BadModelExitsNonZero) {
    int rc = 0;
    run_kite("tokenize --model /nonexistent --jsonl", "{\"text\": \"x\"}\n", &rc);
    EXPECT_NE(rc, 0);
    run_kite("tokenize --jsonl", "", &rc);
    EXPECT_NE(rc, 0);
}

}  // namespace
}  // namespace kite::testing
