#include "router/backend_pool.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>

namespace kite::router {

using nlohmann::json;

Lease::~Lease() { pool_->release(id_, tokens_); }
void Lease::report_failure() { pool_->failed(id_); }

Result<std::string> BackendPool::add(const std::string& url, bool from_file) {
    KITE_ASSIGN_OR_RETURN(server::HttpEndpoint ep, server::parse_http_url(url));
    std::string id;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const Backend& b : backends_)
            if (b.ep.url() == ep.url()) return invalid_argument("backend " + ep.url() + " is already routed to (id " + b.id + ")");
        Backend b;
        b.id = "b" + std::to_string(next_id_++);
        b.url = ep.url();
        b.ep = ep;
        b.from_file = from_file;
        id = b.id;
        backends_.push_back(std::move(b));
    }
    poll(id, ep);  // a first beat now, so a live backend takes traffic at once
    return id;
}

Status BackendPool::remove(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(backends_.begin(), backends_.end(), [&](const Backend& b) { return b.id == id; });
    if (it == backends_.end()) return not_found("backend '" + id + "' does not exist (see GET /backends)");
    backends_.erase(it);  // requests in flight keep their endpoint; their leases find nothing to release
    return Status::ok();
}

std::unique_ptr<Lease> BackendPool::acquire(const RouteKey& key, const std::set<std::string>& tried) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Candidate> cands;
    for (size_t i = 0; i < backends_.size(); ++i) {
        const Backend& b = backends_[i];
        if (!b.healthy || tried.count(b.id)) continue;
        cands.push_back({static_cast<int>(i), b.id, b.outstanding_tokens, b.waiting,
                         !key.model.empty() && b.models.count(key.model) > 0});
    }
    auto chosen = picker_.pick(cands, key);
    if (!chosen) return nullptr;
    Backend& b = backends_[*chosen];
    b.outstanding_tokens += key.cost_tokens;
    b.in_flight += 1;
    b.requests += 1;
    return std::make_unique<Lease>(this, b.id, b.ep, key.cost_tokens);
}

void BackendPool::release(const std::string& id, int64_t tokens) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Backend& b : backends_) {
        if (b.id != id) continue;
        b.outstanding_tokens -= tokens;
        b.in_flight -= 1;
    }
}

void BackendPool::failed(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Backend& b : backends_) {
        if (b.id != id) continue;
        b.failures += 1;
        if (++b.misses >= hb_.max_misses && b.healthy) {
            b.healthy = false;
            std::fprintf(stderr, "kite router: backend %s (%s) taken out: requests fail\n", b.id.c_str(), b.url.c_str());
        }
    }
}

// One beat of one backend: /health decides health; /worker_status and /v1/models refresh its
// load and the models (adapters) it serves.
void BackendPool::poll(const std::string& id, const server::HttpEndpoint& ep) {
    const int timeout = std::max(100, hb_.interval_ms);
    auto health = server::http_get(ep, "/health", timeout);
    bool ok = health.ok() && health->head.status == 200;
    std::string why = !health.ok() ? health.status().message()
                                   : ok ? "" : "/health answered " + std::to_string(health->head.status);
    int running = 0, waiting = 0;
    double kv = 0;
    std::set<std::string> models;
    bool have_models = false;
    if (ok) {
        if (auto ws = server::http_get(ep, "/worker_status", timeout); ws.ok() && ws->head.status == 200) {
            json j = json::parse(ws->body, nullptr, false);
            if (j.is_object()) {
                running = j.value("running_requests", 0);
                waiting = j.value("waiting_query_len", 0);
                const double total = j.value("total_kv_cache_blocks", 0.0);
                if (total > 0) kv = 1.0 - j.value("available_kv_cache_blocks", 0.0) / total;
            }
        }
        if (auto ms = server::http_get(ep, "/v1/models", timeout); ms.ok() && ms->head.status == 200) {
            json j = json::parse(ms->body, nullptr, false);
            if (j.is_object() && j.contains("data") && j["data"].is_array()) {
                have_models = true;
                for (const json& m : j["data"])
                    if (m.is_object() && m.contains("id") && m["id"].is_string()) models.insert(m["id"].get<std::string>());
            }
        }
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (Backend& b : backends_) {
        if (b.id != id) continue;
        if (ok) {
            if (!b.healthy) std::fprintf(stderr, "kite router: backend %s (%s) in rotation\n", b.id.c_str(), b.url.c_str());
            b.healthy = true;
            b.misses = 0;
            b.last_error.clear();
            b.running = running;
            b.waiting = waiting;
            b.kv_usage = kv;
            if (have_models) b.models = std::move(models);
        } else {
            b.last_error = why;
            // An explicit error answer (loading, draining) takes it out at once; silence takes misses.
            const bool answered = health.ok();
            if ((answered || ++b.misses >= hb_.max_misses) && b.healthy) {
                b.healthy = false;
                std::fprintf(stderr, "kite router: backend %s (%s) taken out: %s\n", b.id.c_str(), b.url.c_str(), why.c_str());
            }
        }
    }
}

void BackendPool::reload_file() {
    if (hb_.backends_file.empty()) return;
    struct stat st {};
    if (::stat(hb_.backends_file.c_str(), &st) != 0) return;
    const int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime == file_mtime_) return;
    file_mtime_ = mtime;
    std::ifstream in(hb_.backends_file);
    std::set<std::string> wanted;
    for (std::string line; std::getline(in, line);) {
        line.erase(0, line.find_first_not_of(" \t\r"));
        line.erase(line.find_last_not_of(" \t\r") + 1);
        if (line.empty() || line[0] == '#') continue;
        auto ep = server::parse_http_url(line);
        if (!ep.ok()) {
            std::fprintf(stderr, "kite router: %s: %s (line skipped)\n", hb_.backends_file.c_str(), ep.status().message().c_str());
            continue;
        }
        wanted.insert(ep->url());
    }
    std::vector<std::string> to_add;
    {
        std::lock_guard<std::mutex> lock(mu_);
        std::erase_if(backends_, [&](const Backend& b) { return b.from_file && !wanted.count(b.url); });
        for (const std::string& u : wanted) {
            const bool known = std::any_of(backends_.begin(), backends_.end(), [&](const Backend& b) { return b.url == u; });
            if (!known) to_add.push_back(u);
        }
    }
    for (const std::string& u : to_add) (void)add(u, /*from_file=*/true);
}

void BackendPool::beat_once() {
    reload_file();
    std::vector<std::pair<std::string, server::HttpEndpoint>> targets;
    {
        std::lock_guard<std::mutex> lock(mu_);
        ++beats_;
        for (const Backend& b : backends_) targets.emplace_back(b.id, b.ep);
    }
    // In parallel, so one silent backend does not delay the others' beats.
    std::vector<std::future<void>> polls;
    for (auto& [id, ep] : targets) polls.push_back(std::async(std::launch::async, [this, id, ep] { poll(id, ep); }));
    for (auto& p : polls) p.wait();
}

void BackendPool::start() {
    reload_file();
    thread_ = std::thread([this] {
        std::unique_lock<std::mutex> lock(stop_mu_);
        while (!stopping_) {
            lock.unlock();
            beat_once();
            lock.lock();
            stop_cv_.wait_for(lock, std::chrono::milliseconds(hb_.interval_ms), [this] { return stopping_; });
        }
    });
}

void BackendPool::stop() {
    {
        std::lock_guard<std::mutex> lock(stop_mu_);
        stopping_ = true;
    }
    stop_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

int BackendPool::num_healthy() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count_if(backends_.begin(), backends_.end(), [](const Backend& b) { return b.healthy; }));
}

json BackendPool::describe() const {
    std::lock_guard<std::mutex> lock(mu_);
    json out = json::array();
    for (const Backend& b : backends_) {
        out.push_back({{"id", b.id}, {"url", b.url}, {"healthy", b.healthy}, {"from_file", b.from_file},
                       {"outstanding_tokens", b.outstanding_tokens}, {"in_flight", b.in_flight},
                       {"running", b.running}, {"waiting", b.waiting}, {"kv_cache_usage", b.kv_usage},
                       {"models", std::vector<std::string>(b.models.begin(), b.models.end())},
                       {"requests", b.requests}, {"failures", b.failures}, {"last_error", b.last_error}});
    }
    return {{"policy", policy_name(picker_.policy())}, {"backends", out}};
}

std::vector<std::string> BackendPool::models() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<std::string> all;
    for (const Backend& b : backends_)
        if (b.healthy) all.insert(b.models.begin(), b.models.end());
    return {all.begin(), all.end()};
}

std::string BackendPool::metrics_text() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::ostringstream o;
    o << "# HELP kite_router_backend_up 1 when the backend is in rotation.\n# TYPE kite_router_backend_up gauge\n";
    for (const Backend& b : backends_) o << "kite_router_backend_up{backend=\"" << b.url << "\"} " << (b.healthy ? 1 : 0) << "\n";
    o << "# HELP kite_router_backend_requests_total Requests forwarded to the backend.\n# TYPE kite_router_backend_requests_total counter\n";
    for (const Backend& b : backends_) o << "kite_router_backend_requests_total{backend=\"" << b.url << "\"} " << b.requests << "\n";
    o << "# HELP kite_router_backend_failures_total Forwarding attempts that failed before an answer.\n# TYPE kite_router_backend_failures_total counter\n";
    for (const Backend& b : backends_) o << "kite_router_backend_failures_total{backend=\"" << b.url << "\"} " << b.failures << "\n";
    o << "# HELP kite_router_backend_outstanding_tokens Estimated tokens of the router's requests in flight there.\n# TYPE kite_router_backend_outstanding_tokens gauge\n";
    for (const Backend& b : backends_) o << "kite_router_backend_outstanding_tokens{backend=\"" << b.url << "\"} " << b.outstanding_tokens << "\n";
    return o.str();
}

}  // namespace kite::router
