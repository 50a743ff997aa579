// `kite bench`: offline throughput. N requests of random prompt ids with given input and output
// lengths (ignore_eos, so every request runs to its length) are submitted at once, first to a
// continuously batched engine, then to a statically batched one, side by side in one run; prints
// requests/s, output tokens/s, latencies and the continuous / static ratio.
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/flags.h"
#include "core/parallel.h"
#include "engine/engine.h"
#include "engine/model_session.h"
#include "engine/scheduling_policy.h"

namespace kite::cli {
namespace {

using nlohmann::json;

struct Workload {
    std::vector<GenerationRequest> requests;
    int64_t num_prompt_tokens = 0;
    int64_t num_output_tokens = 0;
};

// Lengths are uniform in [L * (1 - r), L * (1 + r)] (vLLM's random dataset): with r > 0 requests
// end at different times, which is where continuous batching differs from static batching.
Workload make_workload(int n, int input_len, int output_len, double range, int64_t vocab, uint64_t seed,
                       float temperature) {
    std::mt19937_64 gen(seed);
    auto length = [&](int mean) {
        const int lo = std::max(1, static_cast<int>(mean * (1.0 - range)));
        const int hi = std::max(lo, static_cast<int>(mean * (1.0 + range)));
        return std::uniform_int_distribution<int>(lo, hi)(gen);
    };
    std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(std::max<int64_t>(4, vocab) - 1));
    Workload w;
    for (int i = 0; i < n; ++i) {
        GenerationRequest r;
        r.id = "bench-" + std::to_string(i);
        const int in = length(input_len);
        for (int k = 0; k < in; ++k) r.prompt_ids.push_back(token(gen));
        r.max_new_tokens = length(output_len);
        r.ignore_eos = true;
        r.stream_text = false;
        r.sampling.temperature = temperature;
        r.sampling.seed = seed + uint64_t(i);
        w.num_prompt_tokens += in;
        w.num_output_tokens += r.max_new_tokens;
        w.requests.push_back(std::move(r));
    }
    return w;
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct RunResult {
    double elapsed_s = 0;
    double mean_ttft_s = 0;
    double mean_latency_s = 0;
    int64_t output_tokens = 0;
    EngineStats stats;
};

Result<RunResult> run_once(const ModelSession& s, EngineConfig config, const Workload& w) {
    KITE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::create(s.model, nullptr, config));
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0;
    RunResult res;
    double sum_ttft = 0, sum_latency = 0;
    Status error;
    const double start = now_s();
    for (const GenerationRequest& r : w.requests) {
        KITE_RETURN_IF_ERROR(engine->add_request(r, [&](const RequestOutput& o) {
            std::lock_guard<std::mutex> lock(mu);
            res.output_tokens += static_cast<int64_t>(o.new_token_ids.size());
            if (!o.finished) return;
            if (o.finish_reason == FinishReason::kError) error = o.error;
            sum_ttft += o.timings.first_token_s - o.timings.arrival_s;
            sum_latency += o.timings.finish_s - o.timings.arrival_s;
            ++done;
            cv.notify_all();
        }));
    }
    {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return done == w.requests.size(); });
    }
    res.elapsed_s = now_s() - start;
    engine->shutdown(false);
    KITE_RETURN_IF_ERROR(error);
    res.mean_ttft_s = sum_ttft / double(w.requests.size());
    res.mean_latency_s = sum_latency / double(w.requests.size());
    res.stats = engine->stats();
    return res;
}

json result_json(const RunResult& r, size_t num_requests) {
    return {{"elapsed_s", r.elapsed_s},
            {"requests_per_s", double(num_requests) / r.elapsed_s},
            {"output_tokens_per_s", double(r.output_tokens) / r.elapsed_s},
            {"mean_ttft_s", r.mean_ttft_s},
            {"mean_latency_s", r.mean_latency_s},
            {"num_steps", r.stats.num_steps},
            {"num_preemptions", r.stats.num_preemptions},
            {"num_kv_blocks", r.stats.num_kv_blocks}};
}

}  // namespace

// Host memory copy bandwidth in bytes/s (read + write), best of a few 256 MiB copies.
static double measure_copy_bandwidth() {
    const size_t bytes = size_t(256) << 20;
    std::vector<char> a(bytes, 1), b(bytes, 0);
    double best = 0;
    for (int i = 0; i < 3; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        std::memcpy(b.data(), a.data(), bytes);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, 2.0 * double(bytes) / s);
        a[i] = b[bytes - 1 - i];  // keep the copies observable
    }
    return best;
}

int cmd_bench(int argc, char** argv) {
    Flags f("bench", "--model PATH [--num-requests N] [--input-len L] [--output-len L] [--policy ...] [--json]");
    f.add("model", "PATH", "model folder or .gguf file", "CHECKPOINT_PATH");
    f.add("num-requests", "N", "requests, all submitted at once (default 128)");
    f.add("input-len", "L", "prompt tokens per request (mean; default 64)");
    f.add("output-len", "L", "generated tokens per request (mean; default 64)");
    f.add("range-ratio", "R", "lengths uniform in [L(1-R), L(1+R)] (default 0.5; 0 = all equal)");
    f.add("temperature", "T", "sampling temperature (default 0: greedy)");
    f.add("seed", "S", "seed of the random prompts and lengths (default 0)");
    f.add("repeat", "R", "runs of each policy, alternating; the fastest counts (default 3)");
    f.add_switch("json", "print one JSON line");
    declare_engine_flags(f);  // last: its --help section runs to the end
    auto parsed = f.parse(argc, argv);
    if (!parsed.ok()) return fail("bench", parsed.status());
    if (!*parsed) return 0;
    if (!f.has("model")) return fail("bench", invalid_argument("--model PATH is required"));
    auto n = f.get_int("num-requests", 128, 1, 1 << 20);
    auto in_len = f.get_int("input-len", 64, 1, 1 << 20);
    auto out_len = f.get_int("output-len", 64, 1, 1 << 20);
    auto range = f.get_double("range-ratio", 0.5, 0.0, 1.0);
    auto temp = f.get_double("temperature", 0.0, 0.0, 100.0);
    auto seed = f.get_int("seed", 0, 0, INT64_MAX);
    auto repeat = f.get_int("repeat", 3, 1, 1000);
    for (const Status* st : {&n.status(), &in_len.status(), &out_len.status(), &range.status(), &temp.status(),
                             &seed.status(), &repeat.status()}) {
        if (!st->is_ok()) return fail("bench", *st);
    }
    EngineConfig base;
    base.max_num_seqs = 16;  // fewer than the requests, so that batching policy matters
    auto config = engine_config_from_flags(f, base);
    if (!config.ok()) return fail("bench", config.status());
    auto lo = load_options_from_flags(f);
    if (!lo.ok()) return fail("bench", lo.status());
    auto session = open_model_session(*f.get("model"), "", *lo);
    if (!session.ok()) return fail("bench", session.status());
    const Workload w = make_workload(static_cast<int>(*n), static_cast<int>(*in_len), static_cast<int>(*out_len), *range,
                                     session->model->config().vocab_size, static_cast<uint64_t>(*seed),
                                     static_cast<float>(*temp));

    EngineConfig continuous = *config, batched = *config;
    if (continuous.policy == SchedulingPolicy::kStatic) continuous.policy = SchedulingPolicy::kFcfs;
    batched.policy = SchedulingPolicy::kStatic;
    // Runs alternate, `repeat` times each, and the best of each counts: the first run in a
    // process pays page faults and cold caches that would otherwise favour whichever runs second.
    KITE_CHECK(*repeat >= 1);
    Result<RunResult> c = internal_error("no run"), s = internal_error("no run");
    for (int64_t i = 0; i < *repeat; ++i) {
        auto rc = run_once(*session, continuous, w);
        if (!rc.ok()) return fail("bench", rc.status());
        if (!c.ok() || rc->elapsed_s < c->elapsed_s) c = std::move(rc);
        auto rs = run_once(*session, batched, w);
        if (!rs.ok()) return fail("bench", rs.status());
        if (!s.ok() || rs->elapsed_s < s->elapsed_s) s = std::move(rs);
    }
    const double ratio = (double(c->output_tokens) / c->elapsed_s) / (double(s->output_tokens) / s->elapsed_s);
    // The memory-bandwidth bound: each decode step reads the weights once for up to max_num_seqs
    // sequences, so output tokens/s <= max_num_seqs * bandwidth / weight bytes (KV reads and compute
    // ignored: a ceiling, reached only when decode is bandwidth-bound).
    const double bandwidth = measure_copy_bandwidth();
    const int64_t weight_bytes = session->model->weight_bytes_per_step();
    const double bound = weight_bytes > 0 ? config->max_num_seqs * bandwidth / double(weight_bytes) : 0.0;
    const double best = std::max(double(c->output_tokens) / c->elapsed_s, double(s->output_tokens) / s->elapsed_s);

    json j = {{"model", *f.get("model")},
              {"num_requests", *n},
              {"input_len", *in_len},
              {"output_len", *out_len},
              {"range_ratio", *range},
              {"num_prompt_tokens", w.num_prompt_tokens},
              {"num_output_tokens", w.num_output_tokens},
              {"max_num_seqs", config->max_num_seqs},
              {"max_num_batched_tokens", config->max_num_batched_tokens},
              {"threads", num_threads()},
              {"repeat", *repeat},
              {"continuous", result_json(*c, w.requests.size())},
              {"static", result_json(*s, w.requests.size())},
              {"continuous_policy", policy_name(continuous.policy)},
              {"continuous_over_static", ratio},
              {"copy_bandwidth_gb_s", bandwidth / 1e9},
              {"weight_bytes_per_step", weight_bytes},
              {"bandwidth_bound_output_tok_s", bound},
              {"ratio_to_bandwidth_bound", bound > 0 ? best / bound : 0.0}};
    if (f.get_switch("json")) {
        std::printf("%s\n", j.dump().c_str());
        return 0;
    }
    std::printf("%lld requests, %lld prompt + %lld output tokens, max_num_seqs %d, %d threads\n",
                static_cast<long long>(*n), static_cast<long long>(w.num_prompt_tokens),
                static_cast<long long>(w.num_output_tokens), config->max_num_seqs, num_threads());
    for (const auto& [name, r] : {std::pair<const char*, const RunResult*>{"continuous", &*c}, {"static", &*s}}) {
        std::printf("%-10s %8.2f requests/s %10.1f output tokens/s  mean TTFT %.3f s  mean latency %.3f s  "
                    "%lld steps  %lld preemptions\n",
                    name, double(w.requests.size()) / r->elapsed_s, double(r->output_tokens) / r->elapsed_s,
                    r->mean_ttft_s, r->mean_latency_s, static_cast<long long>(r->stats.num_steps),
                    static_cast<long long>(r->stats.num_preemptions));
    }
    std::printf("continuous / static output tokens/s: %.2f\n", ratio);
    std::printf("bandwidth bound: %.1f output tokens/s (%d seqs x %.1f GB/s copy / %.1f MB weights per step); "
                "best run reaches %.3f of it\n",
                bound, config->max_num_seqs, bandwidth / 1e9, double(weight_bytes) / 1e6, bound > 0 ? best / bound : 0.0);
    return 0;
}

}  // namespace kite::cli
