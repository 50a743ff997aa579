// The scheduler over tiny KV pools (blocks of 4 tokens) with a fake runner that appends scripted
// tokens: chunked prefill beside decode, preemption by recompute and by swap, prefix reuse after
// preemption, policies (FCFS, priority, static), abort and requests that can never fit. Every
// expected count below is worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/scheduler.h"

namespace kite {
namespace {

struct Harness {
    KvCacheManager kv;
    Scheduler sched;
    int32_t next_token = 1000;
    std::vector<std::unique_ptr<Request>> finished;

    Harness(int num_blocks, SchedulerConfig config) : kv({num_blocks, 4, true}), sched(config, kv) {}

    void add(const std::string& id, int prompt_len, int first_token, int max_new, int priority = 0) {
        GenerationRequest g;
        g.id = id;
        g.prompt_ids.resize(size_t(prompt_len));
        std::iota(g.prompt_ids.begin(), g.prompt_ids.end(), first_token);
        g.max_new_tokens = max_new;
        g.priority = priority;
        static int64_t arrival = 0;
        sched.add(std::make_unique<Request>(std::move(g), nullptr, arrival++, 0.0));
    }

    // One step with the fake runner: every sampled sequence gets the next scripted token.
    ScheduledBatch step() {
        ScheduledBatch b = sched.schedule();
        sched.on_computed(b);
        for (const ScheduledSeq& e : b.seqs) {
            if (!e.sample) continue;
            Sequence& s = e.request->seqs[e.seq];
            s.tokens.push_back(next_token++);
            if (s.num_output_tokens() >= e.request->params.max_new_tokens) {
                s.finished = true;
                s.finish_reason = FinishReason::kLength;
            }
        }
        for (auto& r : sched.take_finished()) finished.push_back(std::move(r));
        return b;
    }

    int run_to_end(int max_steps = 100) {
        int steps = 0;
        while (sched.has_work() && steps < max_steps) {
            step();
            ++steps;
        }
        return steps;
    }

    const Request* done(const std::string& id) const {
        for (const auto& r : finished) {
            if (r->params.id == id) return r.get();
        }
        return nullptr;
    }
};

SchedulerConfig config(int max_tokens, int max_seqs = 4, PreemptionMode mode = PreemptionMode::kRecompute,
                       SchedulingPolicy policy = SchedulingPolicy::kFcfs) {
    return {max_seqs, max_tokens, policy, mode};
}

}  // namespace

TEST(Scheduler, ChunkedPrefillMixesWithOtherRequests) {
    Harness h(8, config(6));
    h.add("A", 10, 0, 2);
    h.add("B", 3, 100, 2);

    // Step 1: A's first chunk takes the whole budget of 6 tokens (2 blocks); B waits.
    ScheduledBatch b = h.step();
    ASSERT_EQ(b.seqs.size(), 1u);
    EXPECT_EQ(b.seqs[0].num_new_tokens, 6);
    EXPECT_FALSE(b.seqs[0].sample);
    EXPECT_EQ(h.kv.num_free_blocks(), 6);
    EXPECT_EQ(h.sched.num_waiting(), 1);

    // Step 2: A's last 4 prompt tokens (3rd block) and sample; B's first 2 tokens (1 block).
    b = h.step();
    ASSERT_EQ(b.seqs.size(), 2u);
    EXPECT_EQ(b.seqs[0].num_new_tokens, 4);
    EXPECT_TRUE(b.seqs[0].sample);
    EXPECT_EQ(b.seqs[1].num_new_tokens, 2);
    EXPECT_FALSE(b.seqs[1].sample);
    EXPECT_EQ(b.num_tokens, 6);
    EXPECT_EQ(h.kv.num_free_blocks(), 4);

    // Step 3: A decodes 1 token, B finishes its prompt (1 token); A reaches 2 outputs and frees 3 blocks,
    // of which its 2 full ones stay cached.
    b = h.step();
    ASSERT_EQ(b.seqs.size(), 2u);
    EXPECT_EQ(b.seqs[0].num_new_tokens, 1);
    EXPECT_EQ(b.seqs[1].num_new_tokens, 1);
    ASSERT_NE(h.done("A"), nullptr);
    EXPECT_EQ(h.kv.num_free_blocks(), 7);
    EXPECT_EQ(h.kv.num_free_cached_blocks(), 2);

    // Step 4: B decodes and finishes; its one block is full (4 computed tokens) and cached too.
    h.step();
    ASSERT_NE(h.done("B"), nullptr);
    EXPECT_EQ(h.kv.num_free_blocks(), 8);
    EXPECT_EQ(h.kv.num_free_cached_blocks(), 3);
    EXPECT_FALSE(h.sched.has_work());
    EXPECT_EQ(h.done("A")->seqs[0].output().size(), 2u);
}

TEST(Scheduler, PreemptsTheLatestRequestByRecomputeAndFinishesBoth) {
    Harness h(4, config(100));
    h.add("A", 7, 0, 10);
    h.add("B", 7, 100, 10);

    h.step();  // both prompts: 2 blocks each
    EXPECT_EQ(h.kv.num_free_blocks(), 0);
    h.step();  // position 7 of each still fits in their 2nd blocks
    EXPECT_EQ(h.kv.num_free_blocks(), 0);

    // Step 3: A needs a 3rd block; B (served last) is preempted; its cached blocks are freed and A
    // evicts one of them. B does not come back in the step that preempted it.
    ScheduledBatch b = h.step();
    ASSERT_EQ(b.seqs.size(), 1u);
    EXPECT_EQ(b.seqs[0].request->params.id, "A");
    EXPECT_EQ(h.sched.num_preemptions(), 1);
    EXPECT_EQ(h.sched.num_waiting(), 1);
    EXPECT_EQ(h.kv.num_free_blocks(), 1);
    EXPECT_EQ(h.kv.num_evictions(), 1);
    EXPECT_TRUE(b.swap_out.empty());

    // Step 4: B's first block is still cached (a 4-token hit) but B needs 3 blocks and 1 is free.
    const int64_t hits_before = h.kv.num_cache_hits();
    b = h.step();
    EXPECT_EQ(b.seqs.size(), 1u);
    EXPECT_EQ(h.kv.num_cache_hits() - hits_before, 4);
    EXPECT_EQ(h.sched.num_waiting(), 1);

    h.run_to_end();
    ASSERT_NE(h.done("A"), nullptr);
    ASSERT_NE(h.done("B"), nullptr);
    EXPECT_EQ(h.done("A")->seqs[0].num_output_tokens(), 10);
    // B kept its 2 tokens from before the preemption and generated 8 more.
    EXPECT_EQ(h.done("B")->seqs[0].num_output_tokens(), 10);
    EXPECT_EQ(h.done("B")->num_preemptions, 1);
    EXPECT_EQ(h.sched.num_preemptions(), 1);
    EXPECT_EQ(h.kv.num_free_blocks(), 4);
}

TEST(Scheduler, SwapsOutToHostAndBackIn) {
    Harness h(4, config(100, 4, PreemptionMode::kSwap));
    h.add("A", 7, 0, 10);
    h.add("B", 7, 100, 10);
    h.step();
    h.step();
    // Step 3: B is swapped out: its 8 computed tokens live in its 2 blocks, saved before reuse.
    ScheduledBatch b = h.step();
    ASSERT_EQ(b.swap_out.size(), 1u);
    EXPECT_EQ(b.swap_out[0].request->params.id, "B");
    EXPECT_EQ(b.swap_out[0].blocks, (std::vector<int>{2, 3}));
    EXPECT_EQ(h.sched.num_swapped(), 1);
    EXPECT_EQ(h.sched.num_waiting(), 0);
    EXPECT_EQ(h.kv.num_free_blocks(), 1);

    // A runs alone until it has 10 outputs: A's tokens after step n are 7 + n, so step 10.
    for (int step = 4; step <= 10; ++step) {
        b = h.step();
        EXPECT_TRUE(b.swap_in.empty()) << step;  // B needs 3 blocks (8 computed + 1), A holds 3-4 of 4
    }
    ASSERT_NE(h.done("A"), nullptr);
    EXPECT_EQ(h.kv.num_free_blocks(), 4);

    // Step 11: B's 2 blocks come back and it computes its 9th token in a 3rd block.
    b = h.step();
    ASSERT_EQ(b.swap_in.size(), 1u);
    EXPECT_EQ(b.swap_in[0].blocks.size(), 2u);
    ASSERT_EQ(b.seqs.size(), 1u);
    EXPECT_EQ(b.seqs[0].num_new_tokens, 1);
    EXPECT_EQ(h.kv.num_free_blocks(), 1);
    h.run_to_end();
    ASSERT_NE(h.done("B"), nullptr);
    EXPECT_EQ(h.done("B")->seqs[0].num_output_tokens(), 10);
    EXPECT_EQ(h.kv.num_free_blocks(), 4);
}

TEST(Scheduler, PriorityPolicyServesSmallerPriorityFirst) {
    for (SchedulingPolicy policy : {SchedulingPolicy::kFcfs, SchedulingPolicy::kPriority}) {
        Harness h(8, config(100, 1, PreemptionMode::kRecompute, policy));
        h.add("X", 2, 0, 1, 5);
        h.add("Y", 2, 10, 1, 1);
        h.add("Z", 2, 20, 1, 3);
        h.run_to_end();
        ASSERT_EQ(h.finished.size(), 3u);
        std::string order;
        for (const auto& r : h.finished) order += r->params.id;
        EXPECT_EQ(order, policy == SchedulingPolicy::kFcfs ? "XYZ" : "YZX");
    }
}

TEST(Scheduler, PriorityPreemptsALessUrgentRunningRequest) {
    for (SchedulingPolicy policy : {SchedulingPolicy::kFcfs, SchedulingPolicy::kPriority}) {
        Harness h(4, config(100, 4, PreemptionMode::kSwap, policy));
        h.add("A", 14, 0, 3, /*priority=*/5);
        h.step();  // A's prompt fills all 4 blocks
        EXPECT_EQ(h.kv.num_free_blocks(), 0);
        h.add("B", 5, 100, 2, /*priority=*/0);
        ScheduledBatch b = h.step();
        if (policy == SchedulingPolicy::kFcfs) {
            // B waits for A.
            ASSERT_EQ(b.seqs.size(), 1u);
            EXPECT_EQ(b.seqs[0].request->params.id, "A");
            EXPECT_EQ(h.sched.num_preemptions(), 0);
        } else {
            // A was already scheduled this step: its token is taken back and it is recomputed later
            // (not swapped); B gets 2 of the 4 blocks.
            ASSERT_EQ(b.seqs.size(), 1u);
            EXPECT_EQ(b.seqs[0].request->params.id, "B");
            EXPECT_EQ(b.num_tokens, 5);
            EXPECT_TRUE(b.swap_out.empty());
            EXPECT_EQ(h.sched.num_preemptions(), 1);
            EXPECT_EQ(h.kv.num_free_blocks(), 2);
        }
        h.run_to_end();
        ASSERT_NE(h.done("A"), nullptr);
        ASSERT_NE(h.done("B"), nullptr);
        EXPECT_EQ(h.done("A")->seqs[0].num_output_tokens(), 3);
        EXPECT_EQ(h.done("B")->seqs[0].num_output_tokens(), 2);
        EXPECT_EQ(h.kv.num_free_blocks(), 4);
    }
}

TEST(Scheduler, StaticBatchAdmitsNothingUntilTheBatchFinishes) {
    for (SchedulingPolicy policy : {SchedulingPolicy::kFcfs, SchedulingPolicy::kStatic}) {
        Harness h(16, config(100, 2, PreemptionMode::kRecompute, policy));
        h.add("A", 2, 0, 1);
        h.add("B", 2, 10, 3);
        h.add("C", 2, 20, 1);
        h.step();  // A and B prefill; A finishes
        ScheduledBatch b = h.step();
        // Continuous batching lets C take A's place at once; static waits for B.
        EXPECT_EQ(b.seqs.size(), policy == SchedulingPolicy::kFcfs ? 2u : 1u);
        h.run_to_end();
        EXPECT_EQ(h.finished.size(), 3u);
        EXPECT_EQ(h.kv.num_free_blocks(), 16);
    }
}

TEST(Scheduler, RemoveFreesBlocksInAnyState) {
    Harness h(8, config(100));
    h.add("A", 10, 0, 5);
    h.add("B", 3, 100, 5);
    h.step();
    EXPECT_EQ(h.kv.num_free_blocks(), 4);
    std::unique_ptr<Request> a = h.sched.remove("A");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(h.kv.num_free_blocks(), 7);
    EXPECT_EQ(h.sched.remove("nope"), nullptr);
    h.add("C", 3, 200, 5);
    std::unique_ptr<Request> c = h.sched.remove("C");  // still waiting
    ASSERT_NE(c, nullptr);
    h.run_to_end();
    ASSERT_NE(h.done("B"), nullptr);
    EXPECT_EQ(h.kv.num_free_blocks(), 8);
}

TEST(Scheduler, ARequestThatOutgrowsTheWholePoolEndsWithLength) {
    // 2 blocks = 8 tokens. Prompt 3: after step n it has 3 + n tokens; step 7 must compute
    // position 8, which needs a 3rd block that does not exist.
    Harness h(2, config(100));
    h.add("A", 3, 0, 10);
    h.run_to_end();
    const Request* a = h.done("A");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->seqs[0].num_output_tokens(), 6);
    EXPECT_EQ(a->seqs[0].finish_reason, FinishReason::kLength);
    EXPECT_EQ(a->seqs[0].stop_reason, "kv_cache_full");
    EXPECT_EQ(h.kv.num_free_blocks(), 2);
}

TEST(Scheduler, PrefixHitStartsWithComputedTokens) {
    Harness h(8, config(100));
    h.add("A", 9, 0, 1);
    h.run_to_end();  // blocks [0..3] [4..7] cached
    h.add("B", 10, 0, 1);  // same first 9 tokens, plus token 9
    ScheduledBatch b = h.step();
    ASSERT_EQ(b.seqs.size(), 1u);
    EXPECT_EQ(b.seqs[0].num_new_tokens, 2);  // tokens 8 and 9
    ASSERT_NE(h.done("B"), nullptr);
    EXPECT_EQ(h.done("B")->num_cached_tokens, 8);
}

TEST(Scheduler, RandomWorkloadsNeverLeakBlocks) {
    // Random pools, budgets, policies and preemption modes; requests arrive and are removed at
    // random steps. Invariants: a request is never scheduled past its known tokens, a finished
    // request has exactly max_new_tokens outputs unless it could never fit, and in the end every
    // block is free.
    std::mt19937 gen(123);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
    int64_t preemptions[2] = {0, 0}, unfittable = 0;
    for (int round = 0; round < 200; ++round) {
        const auto mode = uni(0, 1) ? PreemptionMode::kSwap : PreemptionMode::kRecompute;
        const auto policy = static_cast<SchedulingPolicy>(uni(0, 2));
        const int blocks = uni(2, 12);
        Harness h(blocks, config(uni(1, 20), uni(1, 5), mode, policy));
        int added = 0, removed = 0;
        for (int step = 0; step < 300 && (added < 8 || h.sched.has_work()); ++step) {
            if (added < 8 && uni(0, 2) == 0) {
                h.add("r" + std::to_string(added), uni(1, 4 * blocks), uni(0, 400), uni(1, 12), uni(0, 3));
                ++added;
            }
            if (uni(0, 15) == 0 && added > 0) {
                if (h.sched.remove("r" + std::to_string(uni(0, added - 1)))) ++removed;
            }
            ScheduledBatch b = h.sched.schedule();
            for (const ScheduledSeq& e : b.seqs) {
                const Sequence& s = e.request->seqs[e.seq];
                ASSERT_GT(e.num_new_tokens, 0);
                ASSERT_LE(s.num_computed_tokens + e.num_new_tokens, s.num_tokens());
                ASSERT_LE(h.kv.blocks_for_tokens(s.num_computed_tokens + e.num_new_tokens),
                          int(h.kv.block_table(s.id).size()));
            }
            ASSERT_LE(b.num_tokens, h.sched.config().max_num_batched_tokens);
            h.sched.on_computed(b);
            for (const ScheduledSeq& e : b.seqs) {
                if (!e.sample) continue;
                Sequence& s = e.request->seqs[e.seq];
                s.tokens.push_back(h.next_token++);
                if (s.num_output_tokens() >= e.request->params.max_new_tokens) {
                    s.finished = true;
                    s.finish_reason = FinishReason::kLength;
                }
            }
            for (auto& r : h.sched.take_finished()) h.finished.push_back(std::move(r));
        }
        ASSERT_FALSE(h.sched.has_work()) << "round " << round << " did not finish";
        EXPECT_EQ(int(h.finished.size()) + removed, added);
        for (const auto& r : h.finished) {
            const Sequence& s = r->seqs[0];
            if (s.stop_reason != "kv_cache_full") EXPECT_EQ(s.num_output_tokens(), r->params.max_new_tokens);
            else EXPECT_GT(s.num_tokens() + 1, blocks * 4) << "ended early though it fit";
            unfittable += s.stop_reason == "kv_cache_full";
        }
        EXPECT_EQ(h.kv.num_free_blocks(), blocks) << "round " << round;
        preemptions[mode == PreemptionMode::kSwap] += h.sched.num_preemptions();
    }
    // The workloads do exercise both preemption modes and the never-fits path.
    EXPECT_GT(preemptions[0], 0);
    EXPECT_GT(preemptions[1], 0);
    EXPECT_GT(unfittable, 0);
}

}  // namespace kite

// --- fair admission (scheduling_policy.h: fair_admits) ---

namespace kite {
namespace {

// Steps from the arrival of a small request (1 sequence, 20 tokens) to its end, behind 20 wide
// requests (n = 128, 500 tokens each) on 256 seats; the harness keeps one sequence per request, which
// is all admission looks at (a request's seats are its width, n).
int steps_for_small_behind_wide(bool fair) {
    SchedulerConfig c = config(1 << 20, 256);
    c.fair_admission = fair;
    Harness h(8192, c);
    for (int i = 0; i < 20; ++i) {
        GenerationRequest g;
        g.id = "wide" + std::to_string(i);
        g.prompt_ids = {1, 2};
        g.max_new_tokens = 500;
        g.n = 128;
        h.sched.add(std::make_unique<Request>(std::move(g), nullptr, i, 0.0));
    }
    for (int i = 0; i < 3; ++i) h.step();
    GenerationRequest small;
    small.id = "small";
    small.prompt_ids = {7, 8};
    small.max_new_tokens = 20;
    h.sched.add(std::make_unique<Request>(std::move(small), nullptr, 20, 0.0));  // arrives after the wide ones
    int steps = 0;
    while (!h.done("small") && steps < 20000) {
        h.step();
        ++steps;
    }
    return steps;
}

}  // namespace

TEST(FairAdmission, SmallRequestIsNotStarvedBehindWideOnes) {
    // Its own work is 20 steps (the prompt step samples the first token). Fair: it joins at once in
    // the reserve. First-come-first-served: it waits until all 20 wide requests (two at a time on
    // 256 seats) have run their 500 steps.
    const int fair = steps_for_small_behind_wide(true);
    const int fcfs = steps_for_small_behind_wide(false);
    std::printf("small request behind 20 x (n=128, 500 tokens): %d steps fair, %d steps first-come-first-served\n",
                fair, fcfs);
    EXPECT_EQ(fair, 20);
    EXPECT_GE(fcfs, 9 * 500);
}

TEST(FairAdmission, OvertakersStayInTheReserveSoAWideRequestStillRuns) {
    SchedulerConfig c = config(1 << 20, 256);
    Harness h(8192, c);
    GenerationRequest w1;
    w1.id = "W1";
    w1.prompt_ids = {1, 2};
    w1.max_new_tokens = 50;
    w1.n = 128;
    h.sched.add(std::make_unique<Request>(std::move(w1), nullptr, 0, 0.0));
    GenerationRequest w2 = [] {
        GenerationRequest g;
        g.id = "W2";
        g.prompt_ids = {3, 4};
        g.max_new_tokens = 50;
        g.n = 128;
        return g;
    }();
    h.sched.add(std::make_unique<Request>(std::move(w2), nullptr, 1, 0.0));
    // W2 does not fit beside W1 without the reserve (128 + 128 > 256 - 32); a stream of narrow
    // requests (4 a step, 30 tokens each: more than the reserve can hold) overtakes it, but only
    // into the 32 reserved seats, so W2 joins as soon as W1 is done.
    int step = 0, w2_done_at = -1;
    for (; step < 400 && w2_done_at < 0; ++step) {
        for (int k = 0; k < 4; ++k) h.add("n" + std::to_string(step) + "_" + std::to_string(k), 2, 100, 30);
        h.step();
        if (h.done("W2")) w2_done_at = step;
    }
    ASSERT_NE(h.done("W1"), nullptr);
    ASSERT_GE(w2_done_at, 0) << "the wide request starved behind narrow ones";
    // W1: 50 steps; W2 joins in the step W1's seats free up and needs its own 50.
    EXPECT_LE(w2_done_at, 50 + 50 + 1);
    int narrow_done = 0;
    for (const auto& r : h.finished) narrow_done += r->params.id[0] == 'n';
    EXPECT_GT(narrow_done, 0);
}

}  // namespace kite
