// llama.cpp's tokenizer test vectors (.inp/.out, made with AutoTokenizer and
// add_special_tokens=False) for every family whose tokenizer.json is in shared/tokenizers.
#include <fstream>
#include <sstream>

#include "tokenizer_test_util.h"

namespace kite::testing {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct Pair {
    const char* vocab;
    const char* family;
};

class LlamaCppVectors : public ::testing::TestWithParam<Pair> {};

TEST_P(LlamaCppVectors, Match) {
    const Pair p = GetParam();
    const std::string base = kTokDir + "llamacpp-vectors/ggml-vocab-" + p.vocab + ".gguf";
    const std::string inp = slurp(base + ".inp"), out = slurp(base + ".out");
    ASSERT_FALSE(inp.empty()) << base;
    std::vector<std::string> texts;
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (size_t pos = 0;;) {
        const size_t e = inp.find(sep, pos);
        if (e == std::string::npos) break;
        texts.push_back(inp.substr(pos, e - pos));
        pos = e + sep.size();
    }
    std::vector<std::vector<int32_t>> want;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream ls(line);
        std::vector<int32_t> ids;
        for (int32_t x; ls >> x;) ids.push_back(x);
        want.push_back(ids);
    }
    ASSERT_EQ(texts.size(), 46u);
    ASSERT_EQ(want.size(), texts.size());
    auto tok = family(p.family);
    ASSERT_TRUE(tok);
    for (size_t i = 0; i < texts.size(); ++i) {
        auto ids = tok->encode(texts[i], false);
        ASSERT_TRUE(ids.ok()) << ids.status().to_string();
        EXPECT_EQ(*ids, want[i]) << p.vocab << " string #" << i << ": '" << texts[i] << "'";
    }
}

INSTANTIATE_TEST_SUITE_P(Families, LlamaCppVectors,
                         ::testing::Values(Pair{"llama-spm", "llama2"}, Pair{"llama-bpe", "llama3"},
                                           Pair{"qwen2", "qwen2.5"}, Pair{"deepseek-r1-qwen", "qwen2.5"},
                                           Pair{"gpt-2", "gpt2"}, Pair{"falcon", "falcon"},
                                           Pair{"bert-bge", "bert"}),
                         [](const ::testing::TestParamInfo<Pair>& i) {
                             std::string s = i.param.vocab;
                             for (char& c : s) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                             return s;
                         });

}  // namespace
}  // namespace kite::testing
