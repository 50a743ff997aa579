// Added-token matching: leftmost-longest over a byte trie, then HF's single_word / lstrip / rstrip.
#include "tokenizer/added_vocab.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace kite::tok {

void AddedMatcher::add(std::string_view pattern, size_t token_index) {
    if (pattern.empty()) return;
    int32_t node = 0;
    for (char ch : pattern) {
        const unsigned char c = static_cast<unsigned char>(ch);
        int32_t nx = child(node, c);
        if (nx < 0) {
            nx = static_cast<int32_t>(nodes_.size());
            auto& v = nodes_[node].next;
            v.insert(std::lower_bound(v.begin(), v.end(), std::make_pair(c, int32_t{-1})), {c, nx});
            nodes_.push_back(Node{});
        }
        node = nx;
    }
    root_has_[static_cast<unsigned char>(pattern[0])] = true;
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<int32_t>(token_index);
}

int32_t AddedMatcher::child(int32_t node, unsigned char c) const {
    const auto& v = nodes_[node].next;
    auto it = std::lower_bound(v.begin(), v.end(), std::make_pair(c, int32_t{-1}));
    return it != v.end() && it->first == c ? it->second : -1;
}

namespace {
bool is_word_char(uint32_t c) { return c == '_' || is_alphanumeric(c) || is_mark(c); }

uint32_t last_cp(std::string_view s) {
    size_t i = s.size();
    while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
    if (i > 0) --i;
    size_t k = i;
    return next_cp(s, k);
}
}  // namespace

void AddedMatcher::split(std::string_view s, const std::vector<AddedToken>& tokens, std::vector<Segment>& out) const {
    out.clear();
    size_t start_offset = 0;
    size_t pos = 0;
    while (pos < s.size()) {
        if (!root_has_[static_cast<unsigned char>(s[pos])]) { ++pos; continue; }
        int32_t node = 0, best = -1;
        size_t best_end = 0;
        for (size_t k = pos; k < s.size(); ++k) {
            node = child(node, static_cast<unsigned char>(s[k]));
            if (node < 0) break;
            if (nodes_[node].token >= 0) { best = nodes_[node].token; best_end = k + 1; }
        }
        if (best < 0) { ++pos; continue; }
        const AddedToken& t = tokens[static_cast<size_t>(best)];
        size_t start = pos, stop = best_end;
        pos = best_end;  // matching resumes after the match, whatever stripping does
        if (t.single_word) {
            const bool start_ok = start == 0 || !is_word_char(last_cp(s.substr(0, start)));
            size_t k = stop;
            const bool stop_ok = stop == s.size() || !is_word_char(next_cp(s, k));
            if (!start_ok || !stop_ok) continue;
        }
        if (t.lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t b = ns - 1;
                while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
                size_t k = b;
                if (!is_whitespace(next_cp(s, k))) break;
                ns = b;
            }
            start = std::max(ns, start_offset);
        }
        if (t.rstrip) {
            size_t k = stop;
            while (k < s.size()) {
                size_t n = k;
                if (!is_whitespace(next_cp(s, n))) break;
                k = n;
            }
            stop = k;
        }
        if (start_offset < start) out.push_back({start_offset, start, -1});
        out.push_back({start, stop, t.id});
        start_offset = stop;
        pos = std::max(pos, stop);
    }
    if (start_offset < s.size() || out.empty()) out.push_back({start_offset, s.size(), -1});
}

}  // namespace kite::tok
