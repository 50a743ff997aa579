// Token-budget scheduling with chunked prefill, prefix hits, preemption and swapping
// (see scheduler.h for the model of a step).
#include "engine/scheduler.h"

#include "model/lora.h"

#include <algorithm>
#include <unordered_set>

#include "engine/scheduling_policy.h"

namespace kite {

namespace {
// The prefix cache is keyed by the LoRA adapter too: its KV differs from the base model's.
uint64_t prefix_key(const Request& r) { return r.params.lora ? r.params.lora->key() : 0; }
}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config, KvCacheManager& kv) : config_(config), kv_(kv) {}

void Scheduler::add(std::unique_ptr<Request> r) {
    Sequence s;
    s.id = new_seq_id();
    s.tokens = r->params.prompt_ids;
    s.num_prompt_tokens = r->num_prompt_tokens();
    r->seqs.push_back(std::move(s));
    r->state = RequestState::kWaiting;
    waiting_.push_back(std::move(r));
}

void Scheduler::sort_by_policy(std::vector<std::unique_ptr<Request>>& list) const {
    std::stable_sort(list.begin(), list.end(), [this](const auto& a, const auto& b) {
        return serves_before(config_.policy, *a, *b);
    });
}

bool Scheduler::admits(int width, bool overtaking, int blocked_width) const {
    if (!config_.fair_admission) return occupancy() + width <= config_.max_num_seqs;
    Seats seats{config_.max_num_seqs, 0, 0};
    const int reserve = fair_reserve(config_.max_num_seqs);
    for (const auto& r : running_) {
        seats.occupied += r->width();
        if (r->width() <= reserve) seats.occupied_narrow += r->width();
    }
    return fair_admits(seats, width, overtaking, blocked_width);
}

int Scheduler::occupancy() const {
    int n = 0;
    for (const auto& r : running_) n += r->width();
    return n;
}

Scheduler::Booking Scheduler::book(Request& r, int& budget, ScheduledBatch& out) {
    struct Plan {
        int seq;
        int start;
        int n;
        bool fresh;
        PrefixHit hit;
        std::vector<int32_t> draft;
    };
    std::vector<Plan> plans;
    int left = budget;
    for (int i = 0; i < static_cast<int>(r.seqs.size()) && left > 0; ++i) {
        Sequence& s = r.seqs[i];
        if (s.finished) continue;
        Plan p{i, s.num_computed_tokens, 0, !kv_.has_sequence(s.id), {}, {}};
        if (p.fresh) {
            KITE_CHECK(s.num_computed_tokens == 0);  // swapped sequences come back through swap_in
            p.hit = kv_.find_cached_prefix(s.tokens, prefix_key(r));
            p.start = p.hit.num_tokens;
        }
        // Beams need no lockstep here: a beam that has its next-token row waits (nothing left to
        // compute) until the others have theirs, and the beam step runs then.
        p.n = std::min(s.num_tokens() - p.start, left);
        if (p.n <= 0) continue;
        left -= p.n;
        if (p.start == s.num_tokens() - 1) {
            p.draft = propose_draft(r, s, left);
            left -= static_cast<int>(p.draft.size());
        }
        plans.push_back(std::move(p));
    }
    if (plans.empty()) return Booking::kNoBudget;
    auto fits = [&] {
        std::vector<KvCacheManager::SlotPlan> slots;
        for (const Plan& p : plans)
            slots.push_back({r.seqs[p.seq].id, p.start, p.start + p.n + int(p.draft.size()), p.fresh ? &p.hit : nullptr});
        return kv_.num_blocks_needed(slots) <= kv_.num_free_blocks();
    };
    if (!fits()) {
        // Drafts are an optimisation: short of blocks, the step goes without them first.
        bool had_drafts = false;
        for (Plan& p : plans) {
            had_drafts = had_drafts || !p.draft.empty();
            left += static_cast<int>(p.draft.size());
            p.draft.clear();
        }
        if (!had_drafts || !fits()) return Booking::kNoBlocks;
    }

    for (Plan& p : plans) {
        Sequence& s = r.seqs[p.seq];
        const int total = p.start + p.n + static_cast<int>(p.draft.size());
        const bool ok = kv_.allocate_slots(s.id, p.start, total, p.fresh ? &p.hit : nullptr, &out.copies);
        KITE_CHECK(ok);
        if (p.fresh) {
            s.num_computed_tokens = p.hit.num_tokens;
            if (r.num_cached_tokens < 0) r.num_cached_tokens = p.hit.num_tokens;
        }
        out.seqs.push_back({&r, p.seq, p.n, p.start + p.n == s.num_tokens(), std::move(p.draft)});
        out.num_tokens += out.seqs.back().num_scheduled();
    }
    budget = left;
    return Booking::kOk;
}

std::vector<int32_t> Scheduler::propose_draft(const Request& r, const Sequence& s, int budget_left) {
    if (!config_.drafter || config_.num_speculative_tokens <= 0 || r.is_beam_search()) return {};
    if (r.params.n > 1 && !r.forked) return {};  // the first token forks the n samples: no drafts yet
    // A logits processor (structured output) advances its state token by token as it samples;
    // verifying several rows would need its state per row, so these requests do not speculate.
    if (r.params.logits_processor) return {};
    // A step makes at most k + 1 tokens: no draft beyond what max_new_tokens or the context allow.
    int k = std::min({config_.num_speculative_tokens, budget_left, r.params.max_new_tokens - s.num_output_tokens() - 1});
    if (config_.max_model_len > 0) k = std::min(k, config_.max_model_len - s.num_tokens() - 1);
    if (k <= 0) return {};
    return config_.drafter->propose({s.id, s.tokens}, k);
}

Scheduler::Booking Scheduler::swap_in(Request& r, int& budget, ScheduledBatch& out) {
    int need_blocks = 0;
    for (const Sequence& s : r.seqs) {
        if (!s.finished) need_blocks += kv_.blocks_for_tokens(s.num_computed_tokens + std::min(budget, 1));
    }
    if (need_blocks > kv_.num_free_blocks()) return Booking::kNoBlocks;
    for (int i = 0; i < static_cast<int>(r.seqs.size()); ++i) {
        Sequence& s = r.seqs[i];
        if (s.finished) continue;
        const bool ok = kv_.swap_in(s.id, s.num_computed_tokens);
        KITE_CHECK(ok);
        out.swap_in.push_back({&r, i, kv_.block_table(s.id)});
    }
    // The tokens of this step are booked like a running request's (they fit: counted above for
    // one token each; a longer chunk may simply not be booked this step).
    int b = budget;
    if (book(r, b, out) == Booking::kOk) budget = b;
    return Booking::kOk;
}

void Scheduler::preempt(std::unique_ptr<Request> r, ScheduledBatch& out, bool allow_swap) {
    ++num_preemptions_;
    ++r->num_preemptions;
    bool swap = allow_swap && config_.preemption_mode == PreemptionMode::kSwap;
    if (swap) {
        swap = false;
        for (const Sequence& s : r->seqs) swap = swap || (!s.finished && s.num_computed_tokens > 0);
    }
    for (int i = 0; i < static_cast<int>(r->seqs.size()); ++i) {
        Sequence& s = r->seqs[i];
        if (swap && !s.finished) {
            out.swap_out.push_back({r.get(), i, kv_.swap_out(s.id, s.num_computed_tokens)});
            continue;
        }
        s.num_computed_tokens = 0;
        s.beam_row.clear();
        kv_.free(s.id);
    }
    if (swap) {
        r->state = RequestState::kSwapped;
        swapped_.push_back(std::move(r));
    } else {
        r->state = RequestState::kWaiting;
        waiting_.push_back(std::move(r));
    }
}

bool Scheduler::preempt_for(const Request& r, int& budget, ScheduledBatch& out) {
    if (running_.empty()) return false;
    size_t worst = 0;
    for (size_t i = 1; i < running_.size(); ++i) {
        if (serves_before(config_.policy, *running_[worst], *running_[i])) worst = i;
    }
    if (!serves_before(config_.policy, r, *running_[worst])) return false;
    std::unique_ptr<Request> victim = std::move(running_[worst]);
    running_.erase(running_.begin() + long(worst));
    // Its tokens of this step, if any, are taken back. Its K/V is then recomputed rather than
    // swapped: a copy-on-write it booked this step has not happened yet, so its blocks may not
    // hold what a swap would save.
    bool was_scheduled = false;
    std::erase_if(out.seqs, [&](const ScheduledSeq& e) {
        if (e.request != victim.get()) return false;
        out.num_tokens -= e.num_scheduled();
        budget += e.num_scheduled();
        was_scheduled = true;
        return true;
    });
    // Nor can a request swapped in this very step be swapped out again: its blocks are loaded
    // only after the step's saves.
    for (const SwapOp& op : out.swap_in) was_scheduled = was_scheduled || op.request == victim.get();
    preempt(std::move(victim), out, !was_scheduled);
    return true;
}

void Scheduler::finish_unfittable(Request& r) {
    for (Sequence& s : r.seqs) {
        release(s.id);
        if (s.finished) continue;
        s.finished = true;
        s.finish_reason = FinishReason::kLength;
        s.stop_reason = "kv_cache_full";
    }
    r.state = RequestState::kFinished;
}

ScheduledBatch Scheduler::schedule() {
    ScheduledBatch out;
    int budget = config_.max_num_batched_tokens;
    bool preempted = false;

    if (config_.policy == SchedulingPolicy::kStatic &&
        may_admit(config_.policy, num_running(), num_swapped())) {
        // The whole batch joins now: as many as fit by count and by prompt blocks.
        sort_by_policy(waiting_);
        int occupied = 0, blocks = 0;
        size_t k = 0;
        for (; k < waiting_.size(); ++k) {
            const Request& r = *waiting_[k];
            int b = 0;
            for (const Sequence& s : r.seqs) b += kv_.blocks_for_tokens(s.num_tokens() + 1);
            if (k > 0 && (occupied + r.width() > config_.max_num_seqs || blocks + b > kv_.num_free_blocks())) break;
            occupied += r.width();
            blocks += b;
        }
        for (size_t i = 0; i < k; ++i) {
            waiting_[i]->state = RequestState::kRunning;
            running_.push_back(std::move(waiting_[i]));
        }
        waiting_.erase(waiting_.begin(), waiting_.begin() + long(k));
    }

    sort_by_policy(running_);
    for (size_t i = 0; i < running_.size() && budget > 0;) {
        Request& r = *running_[i];
        Booking b = book(r, budget, out);
        while (b == Booking::kNoBlocks) {
            if (running_.size() == 1) {  // alone and still short: it can never fit
                finish_unfittable(r);
                done_.push_back(std::move(running_[i]));
                running_.erase(running_.begin() + long(i));
                break;
            }
            std::unique_ptr<Request> victim = std::move(running_.back());
            running_.pop_back();
            const bool self = victim.get() == &r;
            preempt(std::move(victim), out, true);
            preempted = true;
            if (self) break;
            b = book(r, budget, out);
        }
        if (i < running_.size() && running_[i].get() == &r) ++i;
    }

    if (!preempted) {
        sort_by_policy(swapped_);
        while (!swapped_.empty()) {
            Request& r = *swapped_.front();
            if (occupancy() + r.width() > config_.max_num_seqs) break;
            if (swap_in(r, budget, out) != Booking::kOk) {
                if (!running_.empty() || !out.seqs.empty()) break;
                // Alone and still short (forked sequences lost their sharing on the way out):
                // fall back to recomputing, where the prefix cache shares the prompt again.
                for (Sequence& s : r.seqs) {
                    kv_.drop_swapped(s.id);
                    s.num_computed_tokens = 0;
                    s.beam_row.clear();
                }
                r.state = RequestState::kWaiting;
                waiting_.push_back(std::move(swapped_.front()));
                swapped_.erase(swapped_.begin());
                continue;
            }
            r.state = RequestState::kRunning;
            running_.push_back(std::move(swapped_.front()));
            swapped_.erase(swapped_.begin());
        }
    }

    if (!preempted && config_.policy != SchedulingPolicy::kStatic &&
        may_admit(config_.policy, num_running(), num_swapped())) {
        sort_by_policy(waiting_);
        size_t k = 0;          // waiting_[k] is the candidate; those before it could not join
        int blocked_width = 0;
        while (k < waiting_.size() && budget > 0) {
            Request& r = *waiting_[k];
            if (!running_.empty() && !admits(r.width(), k > 0, blocked_width)) {
                if (!config_.fair_admission) break;
                if (k == 0) blocked_width = r.width();
                ++k;
                continue;
            }
            Booking b = book(r, budget, out);
            // Priority: a more urgent request takes the blocks of the least urgent running one.
            bool displaced = false;
            while (b == Booking::kNoBlocks && config_.policy == SchedulingPolicy::kPriority &&
                   preempt_for(r, budget, out)) {
                displaced = true;
                b = book(r, budget, out);
            }
            if (b == Booking::kNoBlocks && running_.empty() && out.seqs.empty()) {
                finish_unfittable(r);
                done_.push_back(std::move(waiting_[k]));
                waiting_.erase(waiting_.begin() + long(k));
                continue;
            }
            if (b != Booking::kOk) break;
            r.state = RequestState::kRunning;
            running_.push_back(std::move(waiting_[k]));
            waiting_.erase(waiting_.begin() + long(k));
            if (displaced) break;  // the displaced request waits at least one step
        }
    }
    return out;
}

void Scheduler::on_computed(const ScheduledBatch& batch) {
    std::unordered_set<Request*> seen;
    for (const ScheduledSeq& e : batch.seqs) {
        Sequence& s = e.request->seqs[e.seq];
        s.num_computed_tokens += e.num_new_tokens;
        kv_.cache_full_blocks(s.id, s.tokens, s.num_computed_tokens, prefix_key(*e.request));
        if (seen.insert(e.request).second) ++e.request->timings.num_steps;
    }
}

void Scheduler::on_verified(const ScheduledBatch& batch, std::span<const int> num_accepted) {
    for (size_t i = 0; i < batch.seqs.size(); ++i) {
        const ScheduledSeq& e = batch.seqs[i];
        if (e.draft.empty()) continue;
        const int accepted = i < num_accepted.size() ? num_accepted[i] : 0;
        num_draft_tokens_ += static_cast<int64_t>(e.draft.size());
        num_accepted_tokens_ += accepted;
        Sequence& s = e.request->seqs[e.seq];
        if (s.finished) continue;  // its blocks go back in take_finished
        // The accepted drafts are now tokens of the sequence, and their K/V (computed from the
        // very same tokens) is valid; the rejected ones' slots are released.
        KITE_CHECK(s.num_computed_tokens + accepted == s.num_tokens() - 1);
        s.num_computed_tokens += accepted;
        kv_.truncate(s.id, s.num_computed_tokens);
        kv_.cache_full_blocks(s.id, s.tokens, s.num_computed_tokens, 0);
    }
}

int64_t Scheduler::fork_seq(int64_t parent_id) {
    const int64_t child = new_seq_id();
    kv_.fork(parent_id, child);
    return child;
}

void Scheduler::free_seq(int64_t seq_id) { release(seq_id); }

void Scheduler::release(int64_t seq_id) {
    kv_.free(seq_id);
    if (config_.drafter) config_.drafter->forget(seq_id);
}

std::vector<std::unique_ptr<Request>> Scheduler::take_finished() {
    std::vector<std::unique_ptr<Request>> out = std::move(done_);
    done_.clear();
    for (size_t i = 0; i < running_.size();) {
        Request& r = *running_[i];
        for (const Sequence& s : r.seqs) {
            if (s.finished) release(s.id);
        }
        if (r.all_finished()) {
            r.state = RequestState::kFinished;
            out.push_back(std::move(running_[i]));
            running_.erase(running_.begin() + long(i));
        } else {
            ++i;
        }
    }
    return out;
}

std::unique_ptr<Request> Scheduler::remove(const std::string& request_id) {
    for (auto* list : {&running_, &waiting_, &swapped_, &done_}) {
        for (auto it = list->begin(); it != list->end(); ++it) {
            if ((*it)->params.id != request_id) continue;
            std::unique_ptr<Request> r = std::move(*it);
            list->erase(it);
            for (const Sequence& s : r->seqs) release(s.id);
            return r;
        }
    }
    return nullptr;
}

std::vector<std::unique_ptr<Request>> Scheduler::remove_all() {
    std::vector<std::unique_ptr<Request>> out;
    for (auto* list : {&running_, &waiting_, &swapped_, &done_}) {
        for (auto& r : *list) {
            for (const Sequence& s : r->seqs) release(s.id);
            out.push_back(std::move(r));
        }
        list->clear();
    }
    return out;
}

}  // namespace kite
