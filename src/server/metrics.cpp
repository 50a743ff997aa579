// Prometheus text exposition of the server's counters and histograms. Names follow vLLM's
// (`<prefix>:num_requests_running`, `...:time_to_first_token_seconds`) with the prefix "kite"; the
// vLLM-named copies (prefix "vllm", label model_name) follow them.
#include "server/metrics.h"

#include <cstdio>

namespace kite::server {

namespace {

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.9g", v);
    return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, double v, const std::string& labels = "") {
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + num(v) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += v;
    ++count_;
}

void Histogram::render(const std::string& name, std::string& out, const std::string& labels) const {
    const std::string pre = labels.empty() ? "" : labels + ",";
    uint64_t cum = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        cum += counts_[i];
        sample(out, name + "_bucket", static_cast<double>(cum), pre + "le=\"" + num(bounds_[i]) + "\"");
    }
    sample(out, name + "_bucket", static_cast<double>(count_), pre + "le=\"+Inf\"");
    sample(out, name + "_sum", sum_, labels);
    sample(out, name + "_count", static_cast<double>(count_), labels);
}

Metrics::Metrics()
    : ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0}),
      itl_({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}),
      e2e_({0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0}) {}

void Metrics::count_http(int status) {
    std::lock_guard<std::mutex> lock(mu_);
    ++http_[status];
}
void Metrics::count_finished(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    ++finished_[reason];
}
void Metrics::add_tokens(int64_t prompt, int64_t generated) {
    std::lock_guard<std::mutex> lock(mu_);
    prompt_tokens_ += prompt;
    generation_tokens_ += generated;
}
void Metrics::observe_ttft(double s) {
    std::lock_guard<std::mutex> lock(mu_);
    ttft_.observe(s);
}
void Metrics::observe_itl(double s) {
    std::lock_guard<std::mutex> lock(mu_);
    itl_.observe(s);
}
void Metrics::observe_e2e(double s) {
    std::lock_guard<std::mutex> lock(mu_);
    e2e_.observe(s);
}

std::string Metrics::render(const EngineStats* st, int in_flight, int connections) const {
    std::string out;
    std::lock_guard<std::mutex> lock(mu_);
    header(out, "kite:server_requests_in_flight", "gauge", "Generation requests accepted and not finished (the concurrency limit counts these).");
    sample(out, "kite:server_requests_in_flight", in_flight);
    if (connections >= 0) {
        header(out, "kite:http_connections", "gauge", "Open HTTP connections.");
        sample(out, "kite:http_connections", connections);
    }
    header(out, "kite:http_requests_total", "counter", "HTTP requests answered, by status code.");
    for (const auto& [status, n] : http_) sample(out, "kite:http_requests_total", static_cast<double>(n), "status=\"" + std::to_string(status) + "\"");
    header(out, "kite:request_success_total", "counter", "Generation requests finished, by finish reason.");
    for (const auto& [reason, n] : finished_)
        sample(out, "kite:request_success_total", static_cast<double>(n), "finished_reason=\"" + reason + "\"");
    header(out, "kite:prompt_tokens_total", "counter", "Prompt tokens of finished requests.");
    sample(out, "kite:prompt_tokens_total", static_cast<double>(prompt_tokens_));
    header(out, "kite:generation_tokens_total", "counter", "Generated tokens of finished requests.");
    sample(out, "kite:generation_tokens_total", static_cast<double>(generation_tokens_));
    header(out, "kite:time_to_first_token_seconds", "histogram", "Time from request arrival to its first token.");
    ttft_.render("kite:time_to_first_token_seconds", out);
    header(out, "kite:inter_token_latency_seconds", "histogram", "Time between consecutive tokens of a sequence.");
    itl_.render("kite:inter_token_latency_seconds", out);
    header(out, "kite:e2e_request_latency_seconds", "histogram", "Time from request arrival to its last byte.");
    e2e_.render("kite:e2e_request_latency_seconds", out);
    if (st != nullptr) {
        header(out, "kite:num_requests_running", "gauge", "Requests in the running batch.");
        sample(out, "kite:num_requests_running", st->num_running);
        header(out, "kite:num_requests_waiting", "gauge", "Requests waiting to be scheduled.");
        sample(out, "kite:num_requests_waiting", st->num_waiting);
        header(out, "kite:num_requests_swapped", "gauge", "Requests swapped out to host memory.");
        sample(out, "kite:num_requests_swapped", st->num_swapped);
        header(out, "kite:kv_cache_total_blocks", "gauge", "KV cache blocks in the pool.");
        sample(out, "kite:kv_cache_total_blocks", st->num_kv_blocks);
        header(out, "kite:kv_cache_free_blocks", "gauge", "KV cache blocks not held by any request (cached prefixes count as free).");
        sample(out, "kite:kv_cache_free_blocks", st->num_free_kv_blocks);
        header(out, "kite:kv_cache_usage_perc", "gauge", "Fraction of KV cache blocks held by requests (1 = full).");
        sample(out, "kite:kv_cache_usage_perc",
               st->num_kv_blocks > 0 ? 1.0 - static_cast<double>(st->num_free_kv_blocks) / st->num_kv_blocks : 0.0);
        header(out, "kite:prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.");
        sample(out, "kite:prefix_cache_queries_total", static_cast<double>(st->prefix_cache_queries));
        header(out, "kite:prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache.");
        sample(out, "kite:prefix_cache_hits_total", static_cast<double>(st->prefix_cache_hits));
        header(out, "kite:prefix_cache_hit_rate", "gauge", "prefix_cache_hits_total / prefix_cache_queries_total.");
        sample(out, "kite:prefix_cache_hit_rate",
               st->prefix_cache_queries > 0 ? static_cast<double>(st->prefix_cache_hits) / st->prefix_cache_queries : 0.0);
        header(out, "kite:num_preemptions_total", "counter", "Requests preempted for lack of KV blocks.");
        sample(out, "kite:num_preemptions_total", static_cast<double>(st->num_preemptions));
        header(out, "kite:engine_steps_total", "counter", "Engine steps run.");
        sample(out, "kite:engine_steps_total", static_cast<double>(st->num_steps));
        header(out, "kite:spec_decode_num_draft_tokens_total", "counter", "Speculative draft tokens verified.");
        sample(out, "kite:spec_decode_num_draft_tokens_total", static_cast<double>(st->spec_num_draft_tokens));
        header(out, "kite:spec_decode_num_accepted_tokens_total", "counter", "Speculative draft tokens accepted.");
        sample(out, "kite:spec_decode_num_accepted_tokens_total", static_cast<double>(st->spec_num_accepted_tokens));
    }
    render_vllm(st, out);
    return out;
}

void Metrics::set_model_name(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    model_name_ = name;
}

// The same numbers under vLLM's names and its `model_name` label, so that dashboards and alerts
// written for vLLM work unchanged (docs/server.md has the table). Called with mu_ held.
void Metrics::render_vllm(const EngineStats* st, std::string& out) const {
    std::string ml = "model_name=\"";
    for (char c : model_name_) {
        if (c == '"' || c == '\\') ml += '\\';
        if (c == '\n') { ml += "\\n"; continue; }
        ml += c;
    }
    ml += "\"";
    header(out, "vllm:request_success_total", "counter", "Finished requests, by finish reason (same as kite:request_success_total).");
    for (const auto& [reason, n] : finished_)
        sample(out, "vllm:request_success_total", static_cast<double>(n), ml + ",finished_reason=\"" + reason + "\"");
    header(out, "vllm:prompt_tokens_total", "counter", "Prompt tokens of finished requests.");
    sample(out, "vllm:prompt_tokens_total", static_cast<double>(prompt_tokens_), ml);
    header(out, "vllm:generation_tokens_total", "counter", "Generated tokens of finished requests.");
    sample(out, "vllm:generation_tokens_total", static_cast<double>(generation_tokens_), ml);
    header(out, "vllm:time_to_first_token_seconds", "histogram", "Time to first token.");
    ttft_.render("vllm:time_to_first_token_seconds", out, ml);
    // vLLM's older and newer names for the inter-token latency.
    header(out, "vllm:time_per_output_token_seconds", "histogram", "Time per output token (inter-token latency).");
    itl_.render("vllm:time_per_output_token_seconds", out, ml);
    header(out, "vllm:inter_token_latency_seconds", "histogram", "Inter-token latency.");
    itl_.render("vllm:inter_token_latency_seconds", out, ml);
    header(out, "vllm:e2e_request_latency_seconds", "histogram", "End-to-end request latency.");
    e2e_.render("vllm:e2e_request_latency_seconds", out, ml);
    if (st == nullptr) return;
    header(out, "vllm:num_requests_running", "gauge", "Requests in the running batch.");
    sample(out, "vllm:num_requests_running", st->num_running, ml);
    header(out, "vllm:num_requests_waiting", "gauge", "Requests waiting to be scheduled.");
    sample(out, "vllm:num_requests_waiting", st->num_waiting, ml);
    header(out, "vllm:num_requests_swapped", "gauge", "Requests swapped out to host memory.");
    sample(out, "vllm:num_requests_swapped", st->num_swapped, ml);
    const double usage =
        st->num_kv_blocks > 0 ? 1.0 - static_cast<double>(st->num_free_kv_blocks) / st->num_kv_blocks : 0.0;
    header(out, "vllm:kv_cache_usage_perc", "gauge", "KV cache usage (1 = full).");
    sample(out, "vllm:kv_cache_usage_perc", usage, ml);
    header(out, "vllm:gpu_cache_usage_perc", "gauge", "KV cache usage (1 = full); vLLM's pre-V1 name.");
    sample(out, "vllm:gpu_cache_usage_perc", usage, ml);
    header(out, "vllm:prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.");
    sample(out, "vllm:prefix_cache_queries_total", static_cast<double>(st->prefix_cache_queries), ml);
    header(out, "vllm:prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache.");
    sample(out, "vllm:prefix_cache_hits_total", static_cast<double>(st->prefix_cache_hits), ml);
    header(out, "vllm:num_preemptions_total", "counter", "Requests preempted for lack of KV blocks.");
    sample(out, "vllm:num_preemptions_total", static_cast<double>(st->num_preemptions), ml);
}

}  // namespace kite::server
