// SentencePiece BPE merges rebuilt from the pieces' scores (what Hugging Face's LlamaConverter
// does for a tokenizer.model), used by the GGUF "llama" tokenizer (gguf_tokenizer.cpp).
#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/gguf_tokenizer.h"

namespace kite {

namespace gguf_tok {

std::vector<std::string> spm_merges(const std::vector<std::string>& pieces, const std::vector<double>& scores,
                                    const std::vector<bool>& eligible) {
    std::unordered_map<std::string_view, int32_t> index;
    index.reserve(pieces.size() * 2);
    // Which byte lengths occur among the pieces: a split is looked up only when both halves have
    // such a length, so a hostile multi-megabyte piece costs a few hash lookups, not one per byte.
    std::vector<bool> has_len;
    for (size_t i = 0; i < pieces.size(); ++i) {
        if (!eligible[i]) continue;
        index[pieces[i]] = static_cast<int32_t>(i);  // later duplicates win, as in a dict
        if (pieces[i].size() >= has_len.size()) has_len.resize(pieces[i].size() + 1);
        has_len[pieces[i].size()] = true;
    }
    auto occurs = [&](size_t len) { return len < has_len.size() && has_len[len]; };
    // NaN would break the sort's ordering; such a piece ranks last.
    auto score = [&](int32_t id) {
        double v = scores[id];
        return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v;
    };
    struct Merge {
        int32_t left, right, merged;
    };
    std::vector<Merge> merges;
    for (size_t i = 0; i < pieces.size(); ++i) {
        if (!eligible[i]) continue;
        std::string_view p = pieces[i];
        for (size_t k = 1; k < p.size(); ++k) {
            if (!occurs(k) || !occurs(p.size() - k)) continue;
            if ((static_cast<unsigned char>(p[k]) & 0xC0) == 0x80) continue;  // inside a UTF-8 character
            auto l = index.find(p.substr(0, k));
            if (l == index.end()) continue;
            auto r = index.find(p.substr(k));
            if (r == index.end()) continue;
            merges.push_back({l->second, r->second, static_cast<int32_t>(i)});
        }
    }
    // Highest score first; equal scores by the ids of the left, then the right piece. This is the
    // order of HF's Llama-2 tokenizer.json, whose lowest-scored whitespace merges all tie.
    std::sort(merges.begin(), merges.end(), [&](const Merge& a, const Merge& b) {
        const double sa = score(a.merged), sb = score(b.merged);
        if (sa != sb) return sa > sb;
        return a.left != b.left ? a.left < b.left : a.right < b.right;
    });
    std::vector<std::string> out;
    out.reserve(merges.size());
    for (const Merge& m : merges) {
        const std::string& l = pieces[m.left];
        const std::string& r = pieces[m.right];
        // "l r" cannot carry a piece holding a space; SentencePiece pieces use "▁" instead, so only
        // odd user pieces are dropped here.
        if (l.find(' ') != std::string::npos || r.find(' ') != std::string::npos) continue;
        out.push_back(l + " " + r);
    }
    return out;
}

}  // namespace gguf_tok

}  // namespace kite
