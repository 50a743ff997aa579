// Building the forward batch, running the model and sampling (see runner.h).
#include "engine/runner.h"

#include <algorithm>

#include "engine/spec_decode.h"
#include "model/model.h"

namespace kite {
namespace {

// The KV manager's moves, carried out on the model's KV memory.
class KvCacheStore final : public KvBlockStore {
public:
    explicit KvCacheStore(KvCache& cache) : cache_(cache) {}
    void copy_block(int src, int dst) override { cache_.copy_block(src, dst); }
    std::vector<uint8_t> save_blocks(const std::vector<int>& blocks) override { return cache_.save_blocks(blocks); }
    void load_blocks(const std::vector<int>& blocks, const std::vector<uint8_t>& saved) override {
        cache_.load_blocks(blocks, saved);
    }

private:
    KvCache& cache_;
};

}  // namespace

Runner::Runner(Model& model, KvCache& kv_cache, KvCacheManager& kv) : model_(model), kv_cache_(kv_cache), kv_(kv) {}

ForwardBatch Runner::build_forward_batch(const ScheduledBatch& batch) const {
    ForwardBatch fb;
    const int bs = kv_.block_size();
    fb.token_ids.reserve(size_t(batch.num_tokens));
    fb.positions.reserve(size_t(batch.num_tokens));
    fb.slot_mapping.reserve(size_t(batch.num_tokens));
    fb.query_start.push_back(0);
    for (const ScheduledSeq& e : batch.seqs) {
        const Sequence& s = e.request->seqs[e.seq];
        const std::vector<int>& table = kv_.block_table(s.id);
        const int start = s.num_computed_tokens, end = start + e.num_new_tokens;
        for (int p = start; p < end; ++p) {
            fb.token_ids.push_back(s.tokens[p]);
            fb.positions.push_back(p);
            fb.slot_mapping.push_back(int64_t(table[p / bs]) * bs + p % bs);
        }
        // Draft tokens follow the known ones; each of their positions and the last known one
        // gets a logits row (the target's verdict on every draft, plus one token of its own).
        for (size_t d = 0; d < e.draft.size(); ++d) {
            const int p = end + static_cast<int>(d);
            fb.token_ids.push_back(e.draft[d]);
            fb.positions.push_back(p);
            fb.slot_mapping.push_back(int64_t(table[p / bs]) * bs + p % bs);
        }
        const int total = end + static_cast<int>(e.draft.size());
        fb.query_start.push_back(static_cast<int32_t>(fb.token_ids.size()));
        fb.context_lens.push_back(total);
        fb.block_tables.emplace_back(table.begin(), table.begin() + kv_.blocks_for_tokens(total));
        if (e.sample) {
            const int last = static_cast<int32_t>(fb.token_ids.size()) - 1;
            for (int d = static_cast<int>(e.draft.size()); d >= 0; --d) fb.logits_indices.push_back(last - d);
        }
        int32_t lora = -1;
        if (const LoraAdapter* a = e.request->params.lora.get()) {
            auto it = std::find(fb.loras.begin(), fb.loras.end(), a);
            lora = static_cast<int32_t>(it - fb.loras.begin());
            if (it == fb.loras.end()) fb.loras.push_back(a);
        }
        fb.lora_ids.push_back(lora);
    }
    if (fb.loras.empty()) fb.lora_ids.clear();
    // An empty list means "every token"; a step that samples nothing still asks for one row.
    if (fb.logits_indices.empty() && !fb.token_ids.empty()) fb.logits_indices.push_back(0);
    return fb;
}

void Runner::ensure_rngs(Request& r) {
    if (!r.rngs.empty()) return;
    for (int i = 0; i < r.params.n; ++i) {
        std::optional<uint64_t> seed = r.params.sampling.seed;
        if (seed) *seed += static_cast<uint64_t>(i);  // sample i of a request: seed + i
        r.rngs.push_back(std::make_unique<SamplerRng>(seed));
    }
}

void Runner::sample(const ScheduledSeq& e, float* row, SeqResult& out) {
    Request& r = *e.request;
    const Sequence& s = r.seqs[e.seq];
    const size_t vocab = static_cast<size_t>(logits_.dim(1));
    if (r.is_beam_search()) {
        out.beam_row.assign(row, row + vocab);
        log_softmax_inplace(out.beam_row);
        return;
    }
    ensure_rngs(r);
    if (!e.draft.empty()) {
        Verification v = verify_drafts(std::span<float>(row, vocab * (e.draft.size() + 1)), vocab, e.draft,
                                       r.params.sampling, s.prompt(), s.output(), *r.rngs[size_t(s.index)]);
        out.samples = std::move(v.tokens);
        out.chain = true;
        out.num_accepted = v.num_accepted;
        return;
    }
    if (r.params.logits_processor && r.processors.empty())
        for (int i = 0; i < r.params.n; ++i) r.processors.push_back(r.params.logits_processor());
    const int num = (!r.forked && r.params.n > 1) ? r.params.n : 1;
    std::vector<float> copy;
    for (int i = 0; i < num; ++i) {
        std::span<float> logits(row, vocab);
        if (num > 1) {  // sampling edits the row: each of the n samples starts from the raw logits
            copy.assign(row, row + vocab);
            logits = std::span<float>(copy);
        }
        const size_t which = static_cast<size_t>(num > 1 ? i : s.index);
        LogitsProcessor* proc = which < r.processors.size() ? r.processors[which].get() : nullptr;
        if (proc) proc->apply(logits);
        SamplerRng& rng = *r.rngs[which];
        out.samples.push_back(sample_token(logits, r.params.sampling, s.prompt(), s.output(), rng));
        if (proc) proc->accept(out.samples.back().token);
    }
}

Result<StepOutput> Runner::run(const ScheduledBatch& batch) {
    KvCacheStore store(kv_cache_);
    kv_.apply_moves(store);
    StepOutput out;
    out.results.resize(batch.seqs.size());
    if (batch.num_tokens == 0) return out;

    const ForwardBatch fb = build_forward_batch(batch);
    KITE_RETURN_IF_ERROR(model_.forward(fb, kv_cache_, logits_));
    int row = 0;
    for (size_t i = 0; i < batch.seqs.size(); ++i) {
        if (!batch.seqs[i].sample) continue;
        float* data = logits_.data<float>() + int64_t(row) * logits_.dim(1);
        sample(batch.seqs[i], data, out.results[i]);
        row += 1 + static_cast<int>(batch.seqs[i].draft.size());
    }
    return out;
}

}  // namespace kite
