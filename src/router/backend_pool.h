// The router's backends: the table (added by flag, by `POST /backends`, or from a file re-read on
// change), their health from heartbeats, and the load the router itself has sent them. A heartbeat
// thread polls each backend's /health, /worker_status and /v1/models every interval; a backend that
// misses `max_misses` beats in a row, or answers /health with an error (loading, draining on
// SIGTERM), is taken out of rotation and put back on its next good beat.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "router/policy.h"
#include "server/http_client.h"

namespace kite::router {

struct HeartbeatOptions {
    int interval_ms = 1000;
    int max_misses = 2;          // consecutive failed beats before a backend is taken out
    std::string backends_file;   // one URL per line ('#' comments); re-read when it changes
};

class BackendPool;

// A request's claim on one backend: its estimated tokens count as that backend's load until the
// lease is dropped.
class Lease {
public:
    Lease(BackendPool* pool, std::string id, server::HttpEndpoint ep, int64_t tokens)
        : pool_(pool), id_(std::move(id)), ep_(std::move(ep)), tokens_(tokens) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    const std::string& id() const { return id_; }
    const server::HttpEndpoint& endpoint() const { return ep_; }
    // The backend failed before answering: count a miss now rather than waiting for the next beat.
    void report_failure();

private:
    BackendPool* pool_;
    std::string id_;
    server::HttpEndpoint ep_;
    int64_t tokens_;
};

class BackendPool {
public:
    BackendPool(Policy policy, HeartbeatOptions hb) : picker_(policy), hb_(std::move(hb)) {}
    ~BackendPool() { stop(); }

    // Adds a backend (unhealthy until its first good beat, which add() runs at once); returns its id.
    Result<std::string> add(const std::string& url, bool from_file = false);
    Status remove(const std::string& id);
    // A healthy backend for `key`, excluding ids in `tried`; nullptr when none is left.
    std::unique_ptr<Lease> acquire(const RouteKey& key, const std::set<std::string>& tried);

    void start();  // the heartbeat thread
    void stop();

    int num_healthy() const;
    nlohmann::json describe() const;        // GET /backends
    std::vector<std::string> models() const;  // union of the healthy backends' /v1/models ids
    std::string metrics_text() const;       // Prometheus lines for /metrics
    Policy policy() const { return picker_.policy(); }

private:
    friend class Lease;
    struct Backend {
        std::string id, url;
        server::HttpEndpoint ep;
        bool from_file = false;
        bool healthy = false;
        int misses = 0;
        std::string last_error;
        int64_t outstanding_tokens = 0;
        int in_flight = 0;
        int running = 0, waiting = 0;
        double kv_usage = 0;
        std::set<std::string> models;
        int64_t requests = 0, failures = 0;
        int64_t gone_at_beat = -1;  // beat number when taken out (for the log)
    };
    void beat_once();
    void poll(const std::string& id, const server::HttpEndpoint& ep);
    void reload_file();
    void release(const std::string& id, int64_t tokens);
    void failed(const std::string& id);

    mutable std::mutex mu_;
    std::vector<Backend> backends_;
    int next_id_ = 0;
    Picker picker_;
    HeartbeatOptions hb_;
    int64_t file_mtime_ = -1;
    int64_t beats_ = 0;

    std::thread thread_;
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    bool stopping_ = false;
};

}  // namespace kite::router
