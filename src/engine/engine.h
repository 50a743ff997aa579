// The engine: one thread owns the scheduler, the KV cache manager and the runner, and loops
// schedule -> run -> update. Callers on other threads reach it only through add_request / abort
// (a queue) and receive outputs through their callback. The HTTP server and `kite generate
// --requests` both sit on this API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "engine/request.h"

namespace kite {

class Model;
class Tokenizer;

enum class PreemptionMode { kRecompute, kSwap };
enum class SchedulingPolicy { kFcfs, kPriority, kStatic };

struct EngineConfig {
    int max_num_seqs = 256;
    int max_num_batched_tokens = 2048;
    int block_size = 16;
    int num_kv_blocks = 0;          // > 0: exactly this many blocks
    int64_t kv_cache_mem_mb = 0;    // else: blocks from this budget; 0 and 0 -> a default budget
    double kv_cache_mem_fraction = 0.0;  // else: this fraction of the model device's available memory
    double gpu_memory_utilization = 0.9; // CUDA: the default budget takes at most this fraction of free GPU memory
    bool enable_prefix_caching = true;
    PreemptionMode preemption_mode = PreemptionMode::kRecompute;
    SchedulingPolicy policy = SchedulingPolicy::kFcfs;
    int max_model_len = 0;          // 0: the model's max_position_embeddings
    // Speculative decoding (lossless): up to num_speculative_tokens drafts per sequence and step,
    // from prompt lookup of the last speculative_ngram tokens, or from a draft model (not yet).
    int num_speculative_tokens = 0;
    int speculative_ngram = 0;
    std::string speculative_model;
};

struct EngineStats {
    int num_running = 0;
    int num_waiting = 0;
    int num_swapped = 0;
    int num_kv_blocks = 0;
    int num_free_kv_blocks = 0;     // free, including cached-but-unreferenced blocks
    int64_t prefix_cache_queries = 0;  // prompt tokens looked up
    int64_t prefix_cache_hits = 0;     // prompt tokens found
    int64_t num_preemptions = 0;
    int64_t num_steps = 0;
    int64_t num_prompt_tokens = 0;     // totals over finished and running requests
    int64_t num_generation_tokens = 0;
    int64_t spec_num_draft_tokens = 0;     // draft tokens verified
    int64_t spec_num_accepted_tokens = 0;  // of which the target accepted
};

class Engine {
public:
    virtual ~Engine() = default;
    // Starts the engine thread. `tokenizer` may be null (no text deltas, no stop strings).
    static Result<std::unique_ptr<Engine>> create(std::shared_ptr<Model> model,
                                                  std::shared_ptr<const Tokenizer> tokenizer,
                                                  const EngineConfig& config);

    // Validates and queues. A request that can never run (prompt longer than the KV budget or the
    // context) is refused here with a one-line reason. Thread-safe.
    virtual Status add_request(GenerationRequest request, OutputCallback on_output) = 0;
    // Cancels at any time; its blocks are freed and it gets a final output with kAbort. Thread-safe.
    virtual void abort_request(const std::string& request_id) = 0;
    virtual EngineStats stats() const = 0;
    virtual int max_model_len() const = 0;
    // Finishes what is in flight (drain) or aborts it, then stops the thread.
    virtual void shutdown(bool drain) = 0;
};

}  // namespace kite
