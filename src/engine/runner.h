// The runner turns a ScheduledBatch into tensors and work: the KV manager's moves (swaps,
// copy-on-write) carried out on the KvCache, one ForwardBatch (token ids, positions, slot mapping, block tables, logits rows) through
// Model::forward, then per sequence a sample from its own seeded generator (or, for beam search,
// the log-probability row). The only engine code that touches the model and K/V memory.
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/engine.h"
#include "engine/sampling.h"
#include "engine/scheduler.h"
#include "model/forward_batch.h"
#include "model/kv_cache.h"

namespace kite {

class Model;

// What a sampled sequence produced this step.
struct SeqResult {
    std::vector<TokenLogprob> samples;  // 1, or n when the prompt sequence forks into n samples
    std::vector<float> beam_row;        // beam search: log-softmax of the logits
    // Speculative step (the ScheduledSeq had drafts): `samples` are successive tokens of this one
    // sequence, the first num_accepted of them accepted drafts.
    bool chain = false;
    int num_accepted = 0;
};

struct StepOutput {
    std::vector<SeqResult> results;  // parallel to ScheduledBatch::seqs; empty where !sample
};

class Runner {
public:
    Runner(Model& model, KvCache& kv_cache, KvCacheManager& kv);
    Result<StepOutput> run(const ScheduledBatch& batch);
    // The ForwardBatch of a step (exposed for tests).
    ForwardBatch build_forward_batch(const ScheduledBatch& batch) const;

private:
    void sample(const ScheduledSeq& e, float* row, SeqResult& out);
    void ensure_rngs(Request& r);

    Model& model_;
    KvCache& kv_cache_;
    KvCacheManager& kv_;
    Tensor logits_;
};

}  // namespace kite
