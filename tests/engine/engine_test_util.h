// Helpers for engine tests on the real stories260K model: load it once, run a set of requests
// through an Engine and collect every sequence's tokens, text and finish reason.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace kite::testing {

inline std::string stories_dir() { return std::string(KITE_SHARED_DIR) + "/models/stories260K"; }

inline std::shared_ptr<Model> stories_model() {
    static std::shared_ptr<Model> model = [] {
        auto m = load_model(stories_dir());
        EXPECT_TRUE(m.ok()) << m.status().message();
        return m.ok() ? std::shared_ptr<Model>(std::move(*m)) : nullptr;
    }();
    return model;
}

inline std::shared_ptr<const Tokenizer> stories_tokenizer() {
    static std::shared_ptr<const Tokenizer> tok = [] {
        auto t = Tokenizer::from_model_dir(stories_dir());
        EXPECT_TRUE(t.ok()) << t.status().message();
        return t.ok() ? std::shared_ptr<const Tokenizer>(*t) : nullptr;
    }();
    return tok;
}

inline nlohmann::json read_json(const std::string& path) {
    std::ifstream f(path);
    return nlohmann::json::parse(f);
}

struct SeqResult {
    std::vector<int32_t> ids;
    std::string text;
    FinishReason reason = FinishReason::kNone;
    std::string stop_reason;
    int num_cached_tokens = 0;
    double score = 0;
    bool finished = false;
    Status error;
};

// Collects outputs of many requests; thread-safe (the engine thread calls on_output).
class Collector {
public:
    OutputCallback callback() {
        return [this](const RequestOutput& o) {
            std::lock_guard<std::mutex> lock(mu_);
            auto& seqs = results_[o.request_id];
            if (seqs.size() <= size_t(o.index)) seqs.resize(size_t(o.index) + 1);
            SeqResult& s = seqs[size_t(o.index)];
            s.ids.insert(s.ids.end(), o.new_token_ids.begin(), o.new_token_ids.end());
            s.text += o.text_delta;
            s.num_cached_tokens = o.num_cached_tokens;
            if (o.finished) {
                EXPECT_FALSE(s.finished) << o.request_id << " finished twice";
                s.finished = true;
                s.reason = o.finish_reason;
                s.stop_reason = o.stop_reason;
                s.score = o.score;
                s.error = o.error;
                ++num_finished_;
                cv_.notify_all();
            }
            if (hook_) hook_(o);
        };
    }
    // Called after each output is recorded, on the engine thread (e.g. to add requests later).
    void set_hook(OutputCallback hook) { hook_ = std::move(hook); }
    // Waits until `n` sequences have finished; false after a generous safety limit (a hang).
    bool wait(int n) {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, std::chrono::seconds(120), [&] { return num_finished_ >= n; });
    }
    std::map<std::string, std::vector<SeqResult>> results() {
        std::lock_guard<std::mutex> lock(mu_);
        return results_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::string, std::vector<SeqResult>> results_;
    int num_finished_ = 0;
    OutputCallback hook_;
};

// stories260K's reference cases (shared/models/stories260K/reference.json): transformers' greedy ids.
struct StoriesCase {
    std::vector<int32_t> prompt_ids, greedy_ids;
    std::string greedy_text;
};

inline std::vector<StoriesCase> stories_cases() {
    std::vector<StoriesCase> out;
    const nlohmann::json ref = read_json(stories_dir() + "/reference.json");
    for (const auto& c : ref["cases"])
        out.push_back({c["prompt_ids"].get<std::vector<int32_t>>(), c["greedy_ids"].get<std::vector<int32_t>>(),
                       c["greedy_text"].get<std::string>()});
    return out;
}

inline GenerationRequest greedy_request(const std::string& id, std::vector<int32_t> prompt, int max_new) {
    GenerationRequest r;
    r.id = id;
    r.prompt_ids = std::move(prompt);
    r.max_new_tokens = max_new;
    r.sampling.temperature = 0.0f;
    return r;
}

}  // namespace kite::testing
