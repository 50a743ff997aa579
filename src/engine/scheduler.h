// The scheduler decides each step which tokens of which sequences are computed, vLLM-v1 style:
// there is no prefill or decode phase; every sequence has tokens known (num_tokens) and tokens
// computed (num_computed_tokens), and a step hands out at most max_num_batched_tokens of the
// difference, running requests first, then swapped, then waiting ones. A long prompt is thus
// prefilled in chunks beside other requests' decode tokens, and a prefix-cache hit simply starts
// a sequence with tokens already computed. When blocks run out, the running request served last
// is preempted: recomputed later or swapped to host. Decisions only: every block it books, forks,
// frees or swaps goes through the KvCacheManager, and no tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/drafter.h"
#include "engine/engine.h"
#include "engine/sequence.h"
#include "kv/kv_cache_manager.h"

namespace kite {

struct SchedulerConfig {
    int max_num_seqs = 256;            // sequences running at once (a request counts n or num_beams)
    int max_num_batched_tokens = 2048; // tokens computed per step
    SchedulingPolicy policy = SchedulingPolicy::kFcfs;
    PreemptionMode preemption_mode = PreemptionMode::kRecompute;
    bool fair_admission = true;        // scheduling_policy.h: fair_admits (not for the static policy)
    // Speculative decoding: a sequence in decode gets up to this many draft tokens from `drafter`
    // (null: off) verified in its step, within the token budget, the blocks free, max_new_tokens
    // and max_model_len.
    Drafter* drafter = nullptr;
    int num_speculative_tokens = 0;
    int max_model_len = 0;  // 0: no limit on draft positions
};

struct ScheduledSeq {
    Request* request = nullptr;
    int seq = 0;             // index into request->seqs
    int num_new_tokens = 0;  // computed this step, from seq.num_computed_tokens on
    bool sample = false;     // the chunk reaches the last known token: its logits are needed
    std::vector<int32_t> draft;  // speculative tokens after the last known one, verified this step

    int num_scheduled() const { return num_new_tokens + static_cast<int>(draft.size()); }
};

struct SwapOp {
    Request* request = nullptr;
    int seq = 0;
    std::vector<int> blocks;  // the sequence's blocks holding its computed tokens, in order
};

// What one step does: the KV moves (swap_out saves, copy-on-write `copies`, swap_in loads; listed
// here as decided, carried out by KvCacheManager::apply_moves), then one forward pass over `seqs`.
struct ScheduledBatch {
    std::vector<SwapOp> swap_out;
    std::vector<BlockCopy> copies;
    std::vector<SwapOp> swap_in;
    std::vector<ScheduledSeq> seqs;
    int num_tokens = 0;

    bool empty() const { return seqs.empty() && swap_out.empty() && swap_in.empty() && copies.empty(); }
};

class Scheduler {
public:
    Scheduler(const SchedulerConfig& config, KvCacheManager& kv);

    // Queues a validated request; gives it its first sequence (the prompt).
    void add(std::unique_ptr<Request> request);
    ScheduledBatch schedule();
    // After the forward pass: advances computed counts and registers newly full blocks.
    void on_computed(const ScheduledBatch& batch);
    // After the outputs were applied: each sequence that verified drafts keeps the K/V of its
    // `num_accepted[i]` accepted ones (parallel to batch.seqs) and gives back the blocks that
    // only held rejected ones.
    void on_verified(const ScheduledBatch& batch, std::span<const int> num_accepted);
    int64_t num_draft_tokens() const { return num_draft_tokens_; }
    int64_t num_accepted_tokens() const { return num_accepted_tokens_; }
    // Frees the blocks of finished sequences and removes the requests whose sequences all
    // finished (including those the scheduler finished itself because they can never fit).
    std::vector<std::unique_ptr<Request>> take_finished();
    // Removes a request in any state and frees its blocks; null when unknown.
    std::unique_ptr<Request> remove(const std::string& request_id);
    std::vector<std::unique_ptr<Request>> remove_all();

    int64_t new_seq_id() { return next_seq_id_++; }
    // A new sequence sharing every KV block of `parent_id` (a sample or a beam); its id.
    int64_t fork_seq(int64_t parent_id);
    // Releases a sequence's KV blocks (a beam replaced by its children).
    void free_seq(int64_t seq_id);
    const SchedulerConfig& config() const { return config_; }
    bool has_work() const { return !running_.empty() || !waiting_.empty() || !swapped_.empty(); }
    int num_running() const { return static_cast<int>(running_.size()); }
    int num_waiting() const { return static_cast<int>(waiting_.size()); }
    int num_swapped() const { return static_cast<int>(swapped_.size()); }
    int64_t num_preemptions() const { return num_preemptions_; }

private:
    enum class Booking { kOk, kNoBudget, kNoBlocks };
    // Books blocks for `r`'s next tokens within `budget` and appends them to `out`. All or
    // nothing: on kNoBlocks / kNoBudget nothing changed.
    Booking book(Request& r, int& budget, ScheduledBatch& out);
    // Draft tokens for a sequence in decode, at most `budget_left` of them (empty: none).
    std::vector<int32_t> propose_draft(const Request& r, const Sequence& s, int budget_left);
    // A swapped request's blocks come back (all sequences or none), plus tokens within budget.
    Booking swap_in(Request& r, int& budget, ScheduledBatch& out);
    void preempt(std::unique_ptr<Request> r, ScheduledBatch& out, bool allow_swap);
    // Priority policy: preempts the running request served last if `r` comes before it.
    bool preempt_for(const Request& r, int& budget, ScheduledBatch& out);
    // Ends a request that cannot fit in the whole KV pool even alone.
    void finish_unfittable(Request& r);
    int occupancy() const;
    // Whether a waiting request of `width` sequences may join the running set now (fair admission).
    bool admits(int width, bool overtaking, int blocked_width) const;
    // A sequence is done for good: its blocks, and the drafter's state for it, go.
    void release(int64_t seq_id);
    void sort_by_policy(std::vector<std::unique_ptr<Request>>& list) const;

    SchedulerConfig config_;
    KvCacheManager& kv_;
    std::vector<std::unique_ptr<Request>> running_;  // in serving order, re-sorted every step
    std::vector<std::unique_ptr<Request>> waiting_;
    std::vector<std::unique_ptr<Request>> swapped_;
    std::vector<std::unique_ptr<Request>> done_;     // finished by the scheduler itself
    int64_t next_seq_id_ = 1;
    int64_t num_preemptions_ = 0;
    int64_t num_draft_tokens_ = 0;
    int64_t num_accepted_tokens_ = 0;
};

}  // namespace kite
