// Greedy drafts from a draft model with its own rolled-back K/V (see draft_model_drafter.h).
#include "engine/draft_model_drafter.h"

#include <algorithm>

#include "model/forward_batch.h"
#include "model/model.h"

namespace kite {

Result<std::unique_ptr<DraftModelDrafter>> DraftModelDrafter::create(std::shared_ptr<Model> draft,
                                                                     int64_t target_vocab, int num_blocks,
                                                                     int block_size) {
    if (!draft) return invalid_argument("--speculative-model: no draft model");
    if (draft->config().vocab_size != target_vocab)
        return invalid_argument("--speculative-model: the draft model's vocabulary has " +
                                std::to_string(draft->config().vocab_size) + " tokens, the target's " +
                                std::to_string(target_vocab) + " (expected the same tokenizer)");
    KITE_ASSIGN_OR_RETURN(KvCache cache, KvCache::create(draft->kv_shape(num_blocks, block_size)));
    return std::unique_ptr<DraftModelDrafter>(new DraftModelDrafter(std::move(draft), std::move(cache), num_blocks, block_size));
}

DraftModelDrafter::DraftModelDrafter(std::shared_ptr<Model> model, KvCache cache, int num_blocks, int block_size)
    : model_(std::move(model)), cache_(std::move(cache)), kv_({num_blocks, block_size, false}) {}

void DraftModelDrafter::forget(int64_t seq_id) {
    kv_.free(seq_id);
    cached_.erase(seq_id);
}

int32_t DraftModelDrafter::advance(int64_t seq_id, std::vector<int32_t>& cached, std::span<const int32_t> feed) {
    const int first = static_cast<int>(cached.size()), total = first + static_cast<int>(feed.size());
    if (!kv_.allocate_slots(seq_id, first, total, nullptr, nullptr)) {
        // Out of draft blocks: the other sequences' draft state goes (they re-prefill later).
        for (auto it = cached_.begin(); it != cached_.end();) {
            if (it->first == seq_id) {
                ++it;
                continue;
            }
            kv_.free(it->first);
            it = cached_.erase(it);
        }
        if (!kv_.allocate_slots(seq_id, first, total, nullptr, nullptr)) return -1;
    }
    ForwardBatch fb;
    const int bs = kv_.block_size();
    const std::vector<int>& table = kv_.block_table(seq_id);
    for (int i = 0; i < static_cast<int>(feed.size()); ++i) {
        const int p = first + i;
        fb.token_ids.push_back(feed[size_t(i)]);
        fb.positions.push_back(p);
        fb.slot_mapping.push_back(int64_t(table[size_t(p / bs)]) * bs + p % bs);
    }
    fb.query_start = {0, static_cast<int32_t>(feed.size())};
    fb.context_lens = {total};
    fb.block_tables.emplace_back(table.begin(), table.begin() + kv_.blocks_for_tokens(total));
    fb.logits_indices = {static_cast<int32_t>(feed.size()) - 1};
    if (!model_->forward(fb, cache_, logits_).is_ok()) return -1;
    cached.insert(cached.end(), feed.begin(), feed.end());
    const float* row = logits_.data<float>();
    const int64_t vocab = logits_.dim(1);
    return static_cast<int32_t>(std::max_element(row, row + vocab) - row);
}

std::vector<int32_t> DraftModelDrafter::propose(const DraftContext& ctx, int max_tokens) {
    std::vector<int32_t> drafts;
    if (max_tokens <= 0 || ctx.tokens.empty()) return drafts;
    std::vector<int32_t>& cached = cached_[ctx.seq_id];
    // Roll back to what is still true: the target may have rejected drafts this model computed.
    // At least the last token is fed again, since its logits give the first draft.
    size_t keep = 0;
    while (keep < cached.size() && keep < ctx.tokens.size() && cached[keep] == ctx.tokens[keep]) ++keep;
    keep = std::min(keep, ctx.tokens.size() - 1);
    cached.resize(keep);
    kv_.truncate(ctx.seq_id, static_cast<int>(keep));
    std::vector<int32_t> feed(ctx.tokens.begin() + long(keep), ctx.tokens.end());
    while (static_cast<int>(drafts.size()) < max_tokens) {
        const int32_t t = advance(ctx.seq_id, cached, feed);
        if (t < 0) {
            forget(ctx.seq_id);
            break;
        }
        drafts.push_back(t);
        feed = {t};
    }
    return drafts;
}

}  // namespace kite
