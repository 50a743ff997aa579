// A few threads that run the CPU-heavy part of requests (JSON parsing, chat-template rendering,
// tokenizing) so that the HTTP I/O threads only move bytes: /health, /metrics and streaming writes
// stay responsive while a large prompt is processed. Tasks run in submission order.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kite::server {

class WorkerPool {
public:
    explicit WorkerPool(int num_threads);
    ~WorkerPool();  // runs what is queued, then joins
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    void submit(std::function<void()> task);

private:
    void loop();

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace kite::server
