// Helpers for model tests: run a model over sequences with a simple, private KV layout.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "model/model.h"

namespace kite::testing {

// One sequence's paged state for tests: blocks assigned in order from a private pool.
struct TestSequence {
    std::vector<int32_t> tokens;     // every token fed so far
    std::vector<int32_t> block_table;
};

// Feeds `new_tokens` of each sequence in one batch (ragged), returning each sequence's logits
// rows for all its new tokens (all_rows) or only its last one.
inline Result<std::vector<std::vector<float>>> run_step(Model& model, KvCache& kv, std::vector<TestSequence*> seqs,
                                                        const std::vector<std::vector<int32_t>>& new_tokens,
                                                        bool all_rows, int* next_block) {
    ForwardBatch b;
    const int bs = kv.shape().block_size;
    b.query_start.push_back(0);
    for (size_t s = 0; s < seqs.size(); ++s) {
        TestSequence& q = *seqs[s];
        for (int32_t tok : new_tokens[s]) {
            const int32_t pos = static_cast<int32_t>(q.tokens.size());
            if (pos / bs >= static_cast<int32_t>(q.block_table.size())) q.block_table.push_back((*next_block)++);
            b.token_ids.push_back(tok);
            b.positions.push_back(pos);
            b.slot_mapping.push_back(int64_t(q.block_table[pos / bs]) * bs + pos % bs);
            q.tokens.push_back(tok);
            if (all_rows) b.logits_indices.push_back(b.num_tokens() - 1);
        }
        if (!all_rows) b.logits_indices.push_back(b.num_tokens() - 1);
        b.query_start.push_back(b.num_tokens());
        b.context_lens.push_back(static_cast<int32_t>(q.tokens.size()));
        b.block_tables.push_back(q.block_table);
    }
    Tensor logits;
    KITE_RETURN_IF_ERROR(model.forward(b, kv, logits));
    const int64_t V = logits.dim(1);
    std::vector<std::vector<float>> out;
    for (int64_t r = 0; r < logits.dim(0); ++r)
        out.emplace_back(logits.data<float>() + r * V, logits.data<float>() + (r + 1) * V);
    return out;
}

inline int32_t argmax(const std::vector<float>& row) {
    return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

}  // namespace kite::testing
