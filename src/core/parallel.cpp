// The CPU thread pool behind parallel_for. A job is published as one 64-bit word (generation,
// chunk count, next chunk) that threads claim chunks from by compare-and-swap; the caller waits only
// for chunks that were actually claimed. Workers spin briefly between jobs (ops follow each other
// within microseconds in a forward pass) and then sleep on a condition variable.
#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KITE_PAUSE() _mm_pause()
#else
#define KITE_PAUSE() std::this_thread::yield()
#endif

namespace kite {

namespace {

using Fn = std::function<void(int64_t, int64_t)>;

constexpr int kSpinIterations = 1 << 11;  // ~ 50 microseconds of pause before a worker sleeps
constexpr int64_t kMaxChunks = 0xFFFF;    // chunk count and index share 16 bits each of the job word
constexpr int kChunksPerThread = 4;       // slack so a slow (descheduled) thread is covered by others

uint64_t pack(uint32_t gen, uint32_t total, uint32_t next) {
    return (uint64_t(gen) << 32) | (uint64_t(total) << 16) | uint64_t(next);
}

int default_threads() {
    for (const char* var : {"KITE_NUM_THREADS", "OMP_NUM_THREADS"}) {
        if (const char* v = std::getenv(var)) {
            const int n = std::atoi(v);
            if (n > 0) return n;
        }
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

thread_local bool t_inside_job = false;  // nested parallel_for runs inline

class Pool {
public:
    explicit Pool(int threads) { start(threads); }

    int threads() const { return threads_; }

    void resize(int threads) {
        std::lock_guard<std::mutex> lock(mu_);
        stop();
        start(threads);
    }

    // False when another thread is using the pool (the caller then runs the loop inline).
    bool run(int64_t n, int64_t chunks, const Fn& fn) {
        std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
        if (!lock.owns_lock()) return false;
        fn_.store(&fn, std::memory_order_relaxed);
        n_.store(n, std::memory_order_relaxed);
        done_.store(0, std::memory_order_relaxed);
        const uint32_t g = ++gen_value_;
        state_.store(pack(g, uint32_t(chunks), 0), std::memory_order_release);
        publish(g);
        work(g);
        for (int spin = 0; done_.load(std::memory_order_acquire) < chunks; ++spin) {
            if (spin < kSpinIterations) KITE_PAUSE();
            else std::this_thread::yield();  // a claimed chunk's thread was descheduled
        }
        return true;
    }

private:
    void start(int threads) {
        threads_ = std::max(1, threads);
        quit_.store(false);
        const uint32_t now = wake_.load();  // read here: a worker may first run after a later publish
        for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, now] { loop(now); });
    }

    void stop() {
        quit_.store(true);
        publish(++gen_value_);
        for (std::thread& t : workers_) t.join();
        workers_.clear();
    }

    // Announces generation g. A worker sleeps only after registering in sleepers_ and re-checking
    // wake_ under sleep_mu_, so with both sides sequentially consistent no wake-up is lost.
    void publish(uint32_t g) {
        wake_.store(g);
        if (sleepers_.load() > 0) {
            std::lock_guard<std::mutex> lock(sleep_mu_);
            sleep_cv_.notify_all();
        }
    }

    // Claims and runs chunks of job `g` until none is left.
    void work(uint32_t g) {
        uint64_t s = state_.load(std::memory_order_acquire);
        for (;;) {
            const uint32_t gen = uint32_t(s >> 32), total = uint32_t(s >> 16) & 0xFFFF, next = uint32_t(s) & 0xFFFF;
            if (gen != g || next >= total) return;
            if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_acquire)) continue;
            // Our claim succeeded, so job g is live and its description is stable until done_.
            const Fn& fn = *fn_.load(std::memory_order_relaxed);
            const int64_t n = n_.load(std::memory_order_relaxed);
            const int64_t begin = n * next / total, end = n * (next + 1) / total;
            t_inside_job = true;
            if (begin < end) fn(begin, end);
            t_inside_job = false;
            done_.fetch_add(1, std::memory_order_release);
            s = state_.load(std::memory_order_acquire);
        }
    }

    void loop(uint32_t seen) {
        for (;;) {
            uint32_t g = seen;
            for (int spin = 0; spin < kSpinIterations && (g = wake_.load(std::memory_order_acquire)) == seen; ++spin)
                KITE_PAUSE();
            if (g == seen) {
                std::unique_lock<std::mutex> lock(sleep_mu_);
                sleepers_.fetch_add(1);
                while ((g = wake_.load()) == seen) sleep_cv_.wait(lock);
                sleepers_.fetch_sub(1);
            }
            if (quit_.load()) return;
            seen = g;
            work(g);
        }
    }

    std::mutex mu_;  // one job at a time; held by the publishing thread
    int threads_ = 1;
    uint32_t gen_value_ = 0;
    std::vector<std::thread> workers_;
    std::atomic<uint64_t> state_{0};
    std::atomic<uint32_t> wake_{0};
    std::atomic<const Fn*> fn_{nullptr};
    std::atomic<int64_t> n_{0};
    std::atomic<int64_t> done_{0};
    std::atomic<bool> quit_{false};
    std::mutex sleep_mu_;
    std::condition_variable sleep_cv_;
    std::atomic<int> sleepers_{0};
};

std::atomic<int> g_threads{0};  // 0: not chosen yet
std::mutex g_pool_mu;
Pool* g_pool = nullptr;  // created on first use; never destroyed (workers die with the process)

Pool& pool() {
    std::lock_guard<std::mutex> lock(g_pool_mu);
    if (g_pool == nullptr) g_pool = new Pool(num_threads());
    return *g_pool;
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, const Fn& fn) {
    if (n <= 0) return;
    const int threads = num_threads();
    const int64_t by_grain = n / std::max<int64_t>(1, grain);
    if (threads <= 1 || by_grain <= 1 || t_inside_job) {
        fn(0, n);
        return;
    }
    const int64_t chunks = std::min({by_grain, int64_t(threads) * kChunksPerThread, kMaxChunks});
    if (!pool().run(n, chunks, fn)) fn(0, n);
}

int num_threads() {
    int t = g_threads.load(std::memory_order_relaxed);
    if (t == 0) {
        int expected = 0;
        g_threads.compare_exchange_strong(expected, default_threads());
        t = g_threads.load(std::memory_order_relaxed);
    }
    return t;
}

void set_num_threads(int n) {
    n = std::max(1, n);
    g_threads.store(n);
    std::lock_guard<std::mutex> lock(g_pool_mu);
    if (g_pool != nullptr && g_pool->threads() != n) g_pool->resize(n);
}

}  // namespace kite
