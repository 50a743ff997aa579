// Shared helpers for the tokenizer tests: each family's tokenizer is loaded once per test binary.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"

namespace kite::testing {

inline const std::string kTokDir = std::string(KITE_SHARED_DIR) + "/tokenizers/";

inline std::shared_ptr<Tokenizer> family(const std::string& name) {
    static std::map<std::string, std::shared_ptr<Tokenizer>> cache;
    auto it = cache.find(name);
    if (it != cache.end()) return it->second;
    auto r = Tokenizer::from_model_dir(kTokDir + name);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().to_string();
    std::shared_ptr<Tokenizer> t = r.ok() ? *r : nullptr;
    cache[name] = t;
    return t;
}

inline const char* const kFamilies[] = {"llama3", "qwen2.5", "llama2", "gpt2", "bert", "t5", "deepseek-v3", "falcon"};

}  // namespace kite::testing
