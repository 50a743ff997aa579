// Building the forward batch, running the model and sampling (see runner.h).
#include "engine/runner.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "model/model.h"

namespace kite {
namespace {

// MemAvailable from /proc/meminfo, in bytes; 0 if unknown.
int64_t available_memory_bytes() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    int64_t kb = 0;
    std::string unit;
    while (f >> key >> kb >> unit) {
        if (key == "MemAvailable:") return kb * 1024;
    }
    return 0;
}

constexpr int64_t kDefaultKvBudgetBytes = int64_t(512) << 20;

}  // namespace

Result<int> kv_blocks_from_config(const EngineConfig& c, int64_t bytes_per_block, int max_model_len) {
    if (bytes_per_block <= 0) return internal_error("KV block size in bytes is " + std::to_string(bytes_per_block));
    int64_t blocks = 0;
    std::string budget;
    if (c.num_kv_blocks > 0) {
        blocks = c.num_kv_blocks;
    } else if (c.kv_cache_mem_mb > 0) {
        blocks = (c.kv_cache_mem_mb << 20) / bytes_per_block;
        budget = "--kv-cache-mem-mb " + std::to_string(c.kv_cache_mem_mb);
    } else if (c.kv_cache_mem_fraction > 0) {
        if (c.kv_cache_mem_fraction > 1.0) return invalid_argument("KV cache memory fraction must be in (0, 1]");
        blocks = static_cast<int64_t>(c.kv_cache_mem_fraction * double(available_memory_bytes())) / bytes_per_block;
        budget = "a fraction " + std::to_string(c.kv_cache_mem_fraction) + " of available memory";
    } else {
        // Default: room for every sequence at full context, capped by a fixed budget.
        const int64_t tokens = int64_t(c.max_num_seqs) * std::max(1, max_model_len);
        blocks = std::min(kDefaultKvBudgetBytes / bytes_per_block, (tokens + c.block_size - 1) / c.block_size);
        budget = "the default budget";
    }
    if (blocks < 1) {
        return invalid_argument(budget + " holds no KV block (" + std::to_string(bytes_per_block) +
                                " bytes per block of " + std::to_string(c.block_size) + " tokens)");
    }
    if (blocks > (int64_t(1) << 30)) return invalid_argument("KV cache of " + std::to_string(blocks) + " blocks is too large");
    return static_cast<int>(blocks);
}

Runner::Runner(Model& model, KvCache& kv_cache, const KvCacheManager& kv)
    : model_(model), kv_cache_(kv_cache), kv_(kv) {}

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
        fb.query_start.push_back(static_cast<int32_t>(fb.token_ids.size()));
        fb.context_lens.push_back(end);
        fb.block_tables.emplace_back(table.begin(), table.begin() + kv_.blocks_for_tokens(end));
        if (e.sample) fb.logits_indices.push_back(static_cast<int32_t>(fb.token_ids.size()) - 1);
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

void Runner::sample(const ScheduledSeq& e, float* row, SeqResult& out) {
    Request& r = *e.request;
    const Sequence& s = r.seqs[e.seq];
    const size_t vocab = static_cast<size_t>(logits_.dim(1));
    if (r.is_beam_search()) {
        out.beam_row.assign(row, row + vocab);
        log_softmax_inplace(out.beam_row);
        return;
    }
    if (r.rngs.empty()) {
        for (int i = 0; i < r.params.n; ++i) {
            std::optional<uint64_t> seed = r.params.sampling.seed;
            if (seed) *seed += static_cast<uint64_t>(i);  // sample i of a request: seed + i
            r.rngs.push_back(std::make_unique<SamplerRng>(seed));
        }
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
    for (const SwapOp& op : batch.swap_out) op.request->seqs[op.seq].swapped_kv = kv_cache_.save_blocks(op.blocks);
    for (const BlockCopy& c : batch.copies) kv_cache_.copy_block(c.src, c.dst);
    for (const SwapOp& op : batch.swap_in) {
        Sequence& s = op.request->seqs[op.seq];
        kv_cache_.load_blocks(op.blocks, s.swapped_kv);
        s.swapped_kv.clear();
        s.swapped_kv.shrink_to_fit();
    }
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
        ++row;
    }
    return out;
}

}  // namespace kite
