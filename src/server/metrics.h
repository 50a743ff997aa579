// Server metrics in Prometheus' text format (version 0.0.4): request counts by HTTP status and by
// finish reason, token counters, latency histograms (TTFT, inter-token, end-to-end), plus the
// engine's gauges (running/waiting requests, KV blocks, prefix-cache hits) read at scrape time.
// Thread-safe; observations take a short lock.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace kite::server {

class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double v);
    // Appends the _bucket/_sum/_count lines of metric `name`.
    void render(const std::string& name, std::string& out, const std::string& labels = "") const;

private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;  // per bucket, not cumulative
    double sum_ = 0;
    uint64_t count_ = 0;
};

class Metrics {
public:
    Metrics();
    void count_http(int status);
    void count_finished(const std::string& finish_reason);
    void add_tokens(int64_t prompt, int64_t generated);
    void observe_ttft(double s);
    void observe_itl(double s);
    void observe_e2e(double s);
    // The full exposition; `stats` is null while the model is loading. `in_flight`: generation
    // requests the server holds; `connections`: open HTTP connections (-1: unknown).
    std::string render(const EngineStats* stats, int in_flight = 0, int connections = -1) const;
    // The model_name label of the vLLM-named copies.
    void set_model_name(const std::string& name);

private:
    void render_vllm(const EngineStats* stats, std::string& out) const;

    mutable std::mutex mu_;
    std::string model_name_;
    std::map<int, uint64_t> http_;
    std::map<std::string, uint64_t> finished_;
    int64_t prompt_tokens_ = 0, generation_tokens_ = 0;
    Histogram ttft_, itl_, e2e_;
};

}  // namespace kite::server
