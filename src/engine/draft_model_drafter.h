// Drafts from a small model with the target's tokenizer (`--speculative-model PATH`): for each
// sequence it keeps the draft model's own K/V (its own KvCache and KvCacheManager) over the
// sequence's verified tokens, rolls it back to what the target kept (the longest common prefix of
// what it computed and the sequence's tokens now), then decodes K tokens greedily. Greedy drafting
// is deterministic, so to the verifier the draft is a point mass and rejection sampling stays exact.
//
// One sequence at a time (no batching across sequences yet): correct, but on a loaded CPU the K
// serial draft steps per sequence cost more than batching them would.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/drafter.h"
#include "kv/kv_cache_manager.h"
#include "model/kv_cache.h"

namespace kite {

class Model;

class DraftModelDrafter final : public Drafter {
public:
    // `num_blocks` x `block_size` tokens of draft K/V shared by all sequences; the vocabularies
    // of draft and target must agree (same tokenizer).
    static Result<std::unique_ptr<DraftModelDrafter>> create(std::shared_ptr<Model> draft, int64_t target_vocab,
                                                             int num_blocks, int block_size);
    std::vector<int32_t> propose(const DraftContext& ctx, int max_tokens) override;
    void forget(int64_t seq_id) override;

private:
    DraftModelDrafter(std::shared_ptr<Model> model, KvCache cache, int num_blocks, int block_size);
    // Computes `feed` after the sequence's cached tokens; the greedy next token, or -1 when the
    // draft pool has no room even after dropping the other sequences' state.
    int32_t advance(int64_t seq_id, std::vector<int32_t>& cached, std::span<const int32_t> feed);

    std::shared_ptr<Model> model_;
    KvCache cache_;
    KvCacheManager kv_;
    std::unordered_map<int64_t, std::vector<int32_t>> cached_;  // tokens whose draft K/V is cached
    Tensor logits_;
};

}  // namespace kite
