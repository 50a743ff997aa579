// The batch one model step computes, described by plain arrays a kernel can read (vLLM's attention
// metadata). The engine's runner builds it from the scheduler's decision; the model never sees
// requests. Sequences are laid end to end: sequence s owns token rows [query_start[s], query_start[s+1]).
#pragma once

#include <cstdint>
#include <vector>

namespace kite {

class LoraAdapter;

struct ForwardBatch {
    std::vector<int32_t> token_ids;   // [num_tokens]
    std::vector<int32_t> positions;   // [num_tokens] absolute position of each token in its sequence
    // [num_tokens] where each token's K/V is written: block_id * block_size + offset in block.
    std::vector<int64_t> slot_mapping;
    std::vector<int32_t> query_start;  // [num_seqs + 1] prefix sums of new tokens per sequence
    // [num_seqs] keys visible to the last new token of each sequence = cached + new tokens.
    std::vector<int32_t> context_lens;
    // [num_seqs][ceil(context_len / block_size)] physical blocks holding the sequence's K/V.
    std::vector<std::vector<int32_t>> block_tables;
    // Rows of the output logits: token indices (into token_ids) whose logits are wanted, usually
    // the last new token of each sequence. Empty means every token.
    std::vector<int32_t> logits_indices;
    // LoRA (model/lora.h): the adapters of this step and each sequence's index into them (-1: the
    // base model). Both empty when no sequence uses an adapter.
    std::vector<const LoraAdapter*> loras;
    std::vector<int32_t> lora_ids;  // [num_seqs]

    int num_tokens() const { return static_cast<int>(token_ids.size()); }
    int num_seqs() const { return static_cast<int>(context_lens.size()); }
};

}  // namespace kite
