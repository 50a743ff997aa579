// Added tokens (tokenizer.json "added_tokens"): found in the text before the model runs, with
// HF's rules: leftmost-longest match, single_word boundaries, lstrip/rstrip swallowing spaces;
// non-normalized ones are matched in the raw text, normalized ones after the normalizer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kite::tok {

struct AddedToken {
    std::string content;
    int32_t id = -1;
    bool special = false, lstrip = false, rstrip = false, normalized = false, single_word = false;
};

// One segment of a split: a matched added token (id >= 0) or plain text (id < 0).
struct Segment {
    size_t a, b;
    int32_t id;
};

// Byte trie over the patterns of one matching pass (raw or normalized).
class AddedMatcher {
public:
    void add(std::string_view pattern, size_t token_index);
    bool empty() const { return nodes_.size() <= 1; }
    // Splits `s` into segments; `tokens` gives the options of each pattern's token.
    void split(std::string_view s, const std::vector<AddedToken>& tokens, std::vector<Segment>& out) const;

private:
    struct Node {
        std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
        int32_t token = -1;                                  // index into tokens, or -1
    };
    int32_t child(int32_t node, unsigned char c) const;
    std::vector<Node> nodes_{Node{}};
    bool root_has_[256] = {};
};

}  // namespace kite::tok
