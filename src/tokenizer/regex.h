// PCRE2 (UTF + UCP, JIT) behind a small interface: compile an Oniguruma-style pattern as written
// in tokenizer.json and list its non-overlapping matches the way the `tokenizers` library does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kite::tok {

class Regex {
public:
    static Result<std::shared_ptr<const Regex>> compile(const std::string& pattern);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Byte ranges [start, end) of successive leftmost matches; empty matches are skipped.
    // `s` must be valid UTF-8.
    void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;
    // Every match replaced by `content` (Replace normalizer and decoder).
    std::string replace_all(std::string_view s, std::string_view content) const;

private:
    Regex() = default;
    void* code_ = nullptr;  // pcre2_code_8*
    bool jit_ = false;
};

}  // namespace kite::tok
