// ModelSession: the model, its tokenizer and its generation defaults from one opening of the model
// path, equal to what the separate loaders read (generation_config.json of stories260K says
// do_sample false; its tokenizer.json tokenizes as the standalone tokenizer does).
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/model_session.h"
#include "model/gguf_tokenizer.h"

namespace kite {
namespace {

std::string stories_dir() { return std::string(KITE_SHARED_DIR) + "/models/stories260K"; }

void expect_same_tokenizer(const Tokenizer& a, const Tokenizer& b) {
    for (const char* text : {"Once upon a time", "Lily and Tom", "x"}) {
        auto x = a.encode(text, true), y = b.encode(text, true);
        ASSERT_TRUE(x.ok() && y.ok());
        EXPECT_EQ(*x, *y) << text;
    }
}

TEST(ModelSession, FolderGivesModelTokenizerAndDefaults) {
    auto s = open_model_session(stories_dir(), "", {});
    ASSERT_TRUE(s.ok()) << s.status().message();
    ASSERT_NE(s->model, nullptr);
    ASSERT_NE(s->tokenizer, nullptr) << s->tokenizer_error;
    EXPECT_FALSE(s->defaults.do_sample);
    EXPECT_EQ(s->defaults.eos_token_ids, std::vector<int>{2});
    auto standalone = load_model_tokenizer(stories_dir());
    ASSERT_TRUE(standalone.ok());
    expect_same_tokenizer(*s->tokenizer, **standalone);
    const ModelLimits lim = s->limits(100);
    EXPECT_EQ(lim.vocab_size, s->model->config().vocab_size);
    EXPECT_EQ(lim.max_model_len, 100);
    EXPECT_FALSE(lim.defaults.do_sample);
}

TEST(ModelSession, GgufTokenizerComesFromTheOpenedFile) {
    const std::string gguf = std::string(KITE_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (!std::filesystem::exists(gguf)) GTEST_SKIP() << "no " << gguf;
    LoadOptions lo;
    lo.keep_quantized = true;
    auto s = open_model_session(gguf, "", lo);
    ASSERT_TRUE(s.ok()) << s.status().message();
    ASSERT_NE(s->tokenizer, nullptr) << s->tokenizer_error;
    auto standalone = load_model_tokenizer(gguf);
    ASSERT_TRUE(standalone.ok());
    expect_same_tokenizer(*s->tokenizer, **standalone);
}

TEST(ModelSession, ANamedTokenizerThatFailsIsAnError) {
    auto s = open_model_session(stories_dir(), "/no/such/tokenizer.json", {});
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("/no/such/tokenizer.json"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace kite
