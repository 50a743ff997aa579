// Batch invariance of the whole engine: for random mixes of greedy requests (prompt lengths,
// shared prefixes, arrival times, chunk sizes, block sizes, a KV budget small enough to force
// preemption by recompute and by swap, every policy), each request's output equals, token for
// token, its output when run alone, and that equals transformers' greedy ids where known.
#include <gtest/gtest.h>

#include <random>

#include "engine_test_util.h"

namespace kite {
namespace {

using testing::Collector;
using testing::greedy_request;
using testing::read_json;
using testing::stories_dir;
using testing::stories_model;
using testing::stories_tokenizer;

struct Spec {
    GenerationRequest request;
    std::string after;  // submitted once this request has produced `after_tokens` tokens ("" = at once)
    int after_tokens = 0;
};

std::vector<Spec> random_mix(uint32_t seed, std::vector<std::vector<int32_t>>* reference_greedy) {
    const nlohmann::json ref = read_json(stories_dir() + "/reference.json");
    std::mt19937 gen(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
    std::vector<Spec> specs;
    reference_greedy->clear();
    for (size_t i = 0; i < ref["cases"].size(); ++i) {
        const auto& c = ref["cases"][i];
        Spec s{greedy_request("ref" + std::to_string(i), c["prompt_ids"].get<std::vector<int32_t>>(), uni(8, 40)), "", 0};
        reference_greedy->push_back(c["greedy_ids"].get<std::vector<int32_t>>());
        specs.push_back(s);
    }
    const std::vector<int32_t> shared = ref["cases"][3]["prompt_ids"].get<std::vector<int32_t>>();
    for (int i = 0; i < 8; ++i) {
        std::vector<int32_t> prompt;
        if (i % 3 == 0) prompt.assign(shared.begin(), shared.begin() + uni(10, 70));  // shares a prefix
        else prompt.push_back(1);
        const int extra = uni(0, 30);
        for (int k = 0; k < extra; ++k) prompt.push_back(uni(3, 511));
        Spec s{greedy_request("rnd" + std::to_string(i), prompt, uni(4, 40)), "", 0};
        if (i % 2 == 1) {  // arrives later, while others are decoding
            s.after = specs[size_t(uni(0, int(specs.size()) - 1))].request.id;
            s.after_tokens = uni(1, 3);
        }
        specs.push_back(s);
    }
    return specs;
}

std::map<std::string, std::vector<int32_t>> run(const std::vector<Spec>& specs, const EngineConfig& config,
                                                EngineStats* stats) {
    auto created = Engine::create(stories_model(), stories_tokenizer(), config);
    EXPECT_TRUE(created.ok()) << created.status().message();
    if (!created.ok()) return {};
    std::unique_ptr<Engine> engine = std::move(*created);
    Collector col;
    Engine* e = engine.get();
    OutputCallback cb = col.callback();
    col.set_hook([&specs, e, cb](const RequestOutput& o) {
        for (const Spec& s : specs) {
            if (s.after == o.request_id && o.num_output_tokens == s.after_tokens && !o.finished) {
                EXPECT_TRUE(e->add_request(s.request, cb).is_ok());
            }
        }
    });
    int waited = 0;
    for (const Spec& s : specs) {
        if (s.after.empty()) {
            EXPECT_TRUE(engine->add_request(s.request, cb).is_ok());
        }
        ++waited;
    }
    EXPECT_TRUE(col.wait(waited)) << "engine did not finish";
    engine->shutdown(true);
    if (stats) *stats = engine->stats();
    std::map<std::string, std::vector<int32_t>> out;
    for (auto& [id, seqs] : col.results()) out[id] = seqs[0].ids;
    return out;
}

TEST(EngineBatchInvariance, RandomMixesEqualRunsAlone) {
    struct Variant {
        const char* name;
        int block_size, num_blocks, max_tokens, max_seqs;
        PreemptionMode mode;
        SchedulingPolicy policy;
        bool expect_preemption;
    };
    const Variant variants[] = {
        {"recompute, tiny chunks", 4, 36, 7, 16, PreemptionMode::kRecompute, SchedulingPolicy::kFcfs, true},
        {"swap, odd chunks", 4, 36, 13, 16, PreemptionMode::kSwap, SchedulingPolicy::kFcfs, true},
        {"block 1, priority", 1, 160, 5, 6, PreemptionMode::kRecompute, SchedulingPolicy::kPriority, true},
        {"block 16, big chunks", 16, 64, 64, 8, PreemptionMode::kSwap, SchedulingPolicy::kFcfs, false},
        {"static batches", 8, 40, 32, 4, PreemptionMode::kRecompute, SchedulingPolicy::kStatic, false},
    };
    for (uint32_t seed : {1u}) {
        std::vector<std::vector<int32_t>> reference;
        std::vector<Spec> specs = random_mix(seed, &reference);
        std::mt19937 gen(seed);
        for (Spec& s : specs) s.request.priority = std::uniform_int_distribution<int>(0, 3)(gen);

        // Alone: each request in its own engine with room to spare.
        std::map<std::string, std::vector<int32_t>> alone;
        for (const Spec& s : specs) {
            Spec solo = s;
            solo.after.clear();
            EngineConfig cfg;
            cfg.num_kv_blocks = 64;
            alone[s.request.id] = run({solo}, cfg, nullptr)[s.request.id];
        }
        for (size_t i = 0; i < reference.size(); ++i) {
            const auto& got = alone["ref" + std::to_string(i)];
            EXPECT_EQ(got, std::vector<int32_t>(reference[i].begin(), reference[i].begin() + long(got.size())));
        }
        for (const Variant& v : variants) {
            EngineConfig cfg;
            cfg.block_size = v.block_size;
            cfg.num_kv_blocks = v.num_blocks;
            cfg.max_num_batched_tokens = v.max_tokens;
            cfg.max_num_seqs = v.max_seqs;
            cfg.preemption_mode = v.mode;
            cfg.policy = v.policy;
            EngineStats stats;
            auto mixed = run(specs, cfg, &stats);
            for (const Spec& s : specs) {
                EXPECT_EQ(mixed[s.request.id], alone[s.request.id]) << v.name << ", seed " << seed << ", " << s.request.id;
                EXPECT_EQ(int(mixed[s.request.id].size()), s.request.max_new_tokens);
            }
            if (v.expect_preemption) {
                EXPECT_GT(stats.num_preemptions, 0) << v.name;
            }
            EXPECT_EQ(stats.num_free_kv_blocks, stats.num_kv_blocks) << v.name;
        }
    }
}

}  // namespace
}  // namespace kite
