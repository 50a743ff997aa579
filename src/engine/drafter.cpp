// Prompt-lookup drafts (see drafter.h).
#include "engine/drafter.h"

#include <algorithm>

namespace kite {

std::vector<int32_t> NgramDrafter::propose(const DraftContext& ctx, int max_tokens) {
    const std::span<const int32_t> t = ctx.tokens;
    const int len = static_cast<int>(t.size());
    if (max_tokens <= 0 || n_ <= 0 || len <= n_) return {};
    const std::span<const int32_t> suffix = t.subspan(size_t(len - n_));
    // The latest match wins: recent text predicts the next tokens best. A match must end before
    // the suffix itself so at least one token follows it.
    for (int start = len - n_ - 1; start >= 0; --start) {
        if (!std::equal(suffix.begin(), suffix.end(), t.begin() + start)) continue;
        const int from = start + n_;
        const int count = std::min(max_tokens, len - from);
        return std::vector<int32_t>(t.begin() + from, t.begin() + from + count);
    }
    return {};
}

}  // namespace kite
