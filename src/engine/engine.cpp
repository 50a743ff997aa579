// The engine thread: drains the add/abort queue, then steps schedule -> run -> process outputs,
// until shut down (see engine.h). Validation of requests happens on the caller's thread.
#include "engine/engine.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "engine/draft_model_drafter.h"
#include "engine/drafter.h"
#include "engine/kv_budget.h"
#include "engine/output_processor.h"
#include "engine/request_validation.h"
#include "engine/runner.h"
#include "engine/scheduler.h"
#include "engine/spec_config.h"
#include "model/model.h"

namespace kite {
namespace {

// The draft source the config asks for (null: no speculation). A draft model is loaded on the
// target's device with as many KV blocks as the target (its blocks are smaller).
Result<std::unique_ptr<Drafter>> make_drafter(const EngineConfig& c, const Model& target, int num_blocks) {
    if (c.num_speculative_tokens <= 0) return std::unique_ptr<Drafter>();
    if (c.speculative_ngram > 0) return std::unique_ptr<Drafter>(std::make_unique<NgramDrafter>(c.speculative_ngram));
    LoadOptions lo;
    lo.device = target.device();
    auto draft = load_model(c.speculative_model, lo);
    if (!draft.ok()) return invalid_argument("--speculative-model: " + draft.status().message());
    KITE_ASSIGN_OR_RETURN(std::unique_ptr<DraftModelDrafter> d,
                          DraftModelDrafter::create(std::shared_ptr<Model>(std::move(*draft)),
                                                    target.config().vocab_size, num_blocks, c.block_size));
    return std::unique_ptr<Drafter>(std::move(d));
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

class EngineImpl final : public Engine {
public:
    EngineImpl(std::shared_ptr<Model> model, std::shared_ptr<const Tokenizer> tokenizer, const EngineConfig& config,
               int max_model_len, KvCache kv_cache, std::unique_ptr<Drafter> drafter)
        : model_(std::move(model)), tokenizer_(std::move(tokenizer)), config_(config), max_model_len_(max_model_len),
          kv_cache_(std::move(kv_cache)),
          kv_({kv_cache_.shape().num_blocks, config.block_size, config.enable_prefix_caching}),
          drafter_(std::move(drafter)),
          scheduler_({config.max_num_seqs, config.max_num_batched_tokens, config.policy, config.preemption_mode, true,
                      drafter_.get(), drafter_ ? config.num_speculative_tokens : 0, max_model_len},
                     kv_),
          runner_(*model_, kv_cache_, kv_),
          outputs_(tokenizer_, eos_ids(), max_model_len, scheduler_) {
        limits_.vocab_size = model_->config().vocab_size;
        limits_.max_model_len = max_model_len_;
        limits_.num_kv_blocks = kv_.num_blocks();
        limits_.block_size = config.block_size;
        limits_.max_num_seqs = config.max_num_seqs;
        limits_.has_tokenizer = tokenizer_ != nullptr;
        publish_stats();
        thread_ = std::thread([this] { loop(); });
    }
    ~EngineImpl() override { shutdown(false); }

    Status add_request(GenerationRequest request, OutputCallback on_output) override {
        KITE_RETURN_IF_ERROR(validate_request(request, limits_));
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return unavailable("engine is shutting down");
        if (!live_ids_.insert(request.id).second) {
            return invalid_argument("request id '" + request.id + "' is already in use by a live request");
        }
        auto r = std::make_unique<Request>(std::move(request), std::move(on_output), next_arrival_++, now_s());
        queue_.push_back({std::move(r), {}});
        cv_.notify_one();
        return Status::ok();
    }

    void abort_request(const std::string& request_id) override {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back({nullptr, request_id});
        cv_.notify_one();
    }

    EngineStats stats() const override {
        std::lock_guard<std::mutex> lock(mu_);
        return stats_;
    }
    int max_model_len() const override { return max_model_len_; }

    void shutdown(bool drain) override {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!stopping_) {
                stopping_ = true;
                drain_ = drain;
            }
            cv_.notify_one();
        }
        if (thread_.joinable()) thread_.join();
    }

private:
    struct Command {
        std::unique_ptr<Request> add;
        std::string abort_id;
    };

    std::vector<int32_t> eos_ids() const {
        std::vector<int32_t> ids(model_->config().eos_token_ids.begin(), model_->config().eos_token_ids.end());
        return ids;
    }

    void loop() {
        while (true) {
            std::deque<Command> commands;
            bool stopping = false, drain = false;
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [&] { return !queue_.empty() || stopping_ || scheduler_.has_work(); });
                commands.swap(queue_);
                stopping = stopping_;
                drain = drain_;
            }
            for (Command& c : commands) {
                if (c.add) {
                    num_prompt_tokens_ += c.add->num_prompt_tokens();
                    scheduler_.add(std::move(c.add));
                } else if (std::unique_ptr<Request> r = scheduler_.remove(c.abort_id)) {
                    outputs_.finish(*r, FinishReason::kAbort);
                    forget(r->params.id);
                }
            }
            if (stopping && (!drain || !scheduler_.has_work())) {
                for (std::unique_ptr<Request>& r : scheduler_.remove_all()) {
                    outputs_.finish(*r, FinishReason::kAbort);
                    forget(r->params.id);
                }
                publish_stats();
                return;
            }
            if (scheduler_.has_work()) step();
            publish_stats();
        }
    }

    void step() {
        ScheduledBatch batch = scheduler_.schedule();
        ++num_steps_;
        if (!batch.empty()) {
            Result<StepOutput> out = runner_.run(batch);
            if (!out.ok()) {
                for (const ScheduledSeq& e : batch.seqs) {
                    if (std::unique_ptr<Request> r = scheduler_.remove(e.request->params.id)) {
                        outputs_.fail(*r, out.status());
                        forget(r->params.id);
                    }
                }
            } else {
                scheduler_.on_computed(batch);
                outputs_.process(batch, *out);
                std::vector<int> accepted(batch.seqs.size(), 0);
                for (size_t i = 0; i < batch.seqs.size(); ++i) accepted[i] = out->results[i].num_accepted;
                scheduler_.on_verified(batch, accepted);
            }
        }
        for (std::unique_ptr<Request>& r : scheduler_.take_finished()) {
            outputs_.finish(*r, FinishReason::kLength);
            forget(r->params.id);
        }
    }

    void forget(const std::string& id) {
        std::lock_guard<std::mutex> lock(mu_);
        live_ids_.erase(id);
    }

    void publish_stats() {
        EngineStats s;
        s.num_running = scheduler_.num_running();
        s.num_waiting = scheduler_.num_waiting();
        s.num_swapped = scheduler_.num_swapped();
        s.num_kv_blocks = kv_.num_blocks();
        s.num_free_kv_blocks = kv_.num_free_blocks();
        s.prefix_cache_queries = kv_.num_cache_queries();
        s.prefix_cache_hits = kv_.num_cache_hits();
        s.num_preemptions = scheduler_.num_preemptions();
        s.num_steps = num_steps_;
        s.num_prompt_tokens = num_prompt_tokens_;
        s.num_generation_tokens = outputs_.num_generation_tokens();
        s.spec_num_draft_tokens = scheduler_.num_draft_tokens();
        s.spec_num_accepted_tokens = scheduler_.num_accepted_tokens();
        std::lock_guard<std::mutex> lock(mu_);
        stats_ = s;
    }

    std::shared_ptr<Model> model_;
    std::shared_ptr<const Tokenizer> tokenizer_;
    EngineConfig config_;
    int max_model_len_;
    RequestLimits limits_;
    // Engine-thread state.
    KvCache kv_cache_;
    KvCacheManager kv_;
    std::unique_ptr<Drafter> drafter_;
    Scheduler scheduler_;
    Runner runner_;
    OutputProcessor outputs_;
    int64_t num_steps_ = 0;
    int64_t num_prompt_tokens_ = 0;
    // Shared with callers, under mu_.
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Command> queue_;
    std::unordered_set<std::string> live_ids_;
    int64_t next_arrival_ = 0;
    bool stopping_ = false;
    bool drain_ = false;
    EngineStats stats_;
    std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<Model> model, std::shared_ptr<const Tokenizer> tokenizer,
                                               const EngineConfig& config) {
    if (!model) return invalid_argument("Engine::create: no model");
    if (config.block_size < 1 || config.block_size > 4096)
        return invalid_argument("block size " + std::to_string(config.block_size) + " is out of range (expected 1..4096)");
    if (config.max_num_seqs < 1) return invalid_argument("max_num_seqs must be >= 1, got " + std::to_string(config.max_num_seqs));
    if (config.max_num_batched_tokens < 1)
        return invalid_argument("max_num_batched_tokens must be >= 1, got " + std::to_string(config.max_num_batched_tokens));
    if (config.max_model_len < 0) return invalid_argument("max_model_len must be >= 0");
    KITE_RETURN_IF_ERROR(validate_speculative_config(config));
    if (!(config.gpu_memory_utilization > 0 && config.gpu_memory_utilization <= 1))
        return invalid_argument("gpu_memory_utilization must be in (0, 1], got " + std::to_string(config.gpu_memory_utilization));
    int max_model_len = model->config().max_position_embeddings;
    if (config.max_model_len > 0) max_model_len = max_model_len > 0 ? std::min(max_model_len, config.max_model_len)
                                                                   : config.max_model_len;
    if (max_model_len <= 0) max_model_len = 2048;
    const int64_t bytes_per_block = model->kv_shape(1, config.block_size).bytes_per_block();
    KITE_ASSIGN_OR_RETURN(int num_blocks, kv_blocks_from_config(config, bytes_per_block, max_model_len, model->device()));
    KITE_ASSIGN_OR_RETURN(KvCache kv_cache, KvCache::create(model->kv_shape(num_blocks, config.block_size)));
    KITE_ASSIGN_OR_RETURN(std::unique_ptr<Drafter> drafter, make_drafter(config, *model, num_blocks));
    return std::unique_ptr<Engine>(new EngineImpl(std::move(model), std::move(tokenizer), config, max_model_len,
                                                  std::move(kv_cache), std::move(drafter)));
}

}  // namespace kite
