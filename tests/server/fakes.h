// Test doubles for the server: a tokenizer over a toy alphabet, an engine whose outputs the test
// scripts by hand, and an Exchange that records what a handler answers.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/http.h"
#include "server/server_state.h"
#include "tokenizer/tokenizer.h"

namespace kite::server::testing {

// Ids: 0 <unk>, 1 <s>, 2 </s>, then 'a'..'z' = 3..28 and ' ' = 29. Vocabulary 32.
class FakeTokenizer : public Tokenizer {
public:
    Result<std::vector<int32_t>> encode(std::string_view text, bool add_special) const override {
        if (text == "OUT OF MEMORY") throw std::bad_alloc();  // plays an allocation failure
        std::vector<int32_t> ids;
        if (add_special) ids.push_back(1);
        for (char c : text) {
            if (c >= 'a' && c <= 'z') ids.push_back(3 + (c - 'a'));
            else if (c == ' ') ids.push_back(29);
            else if (c == '<') return invalid_argument("unsupported character '<'");
            else ids.push_back(0);
        }
        return ids;
    }
    Result<std::string> decode(std::span<const int32_t> ids, bool skip_special) const override {
        std::string s;
        for (int32_t id : ids) {
            if (id < 0 || id >= 32) return invalid_argument("id " + std::to_string(id) + " out of range");
            if (id <= 2) {
                if (!skip_special) s += id == 1 ? "<s>" : id == 2 ? "</s>" : "<unk>";
            } else if (id == 29) {
                s += ' ';
            } else if (id < 29) {
                s += static_cast<char>('a' + id - 3);
            }
        }
        return s;
    }
    int64_t vocab_size() const override { return 32; }
    std::optional<int32_t> token_to_id(std::string_view) const override { return std::nullopt; }
    std::string id_to_token(int32_t id) const override {
        auto s = decode(std::vector<int32_t>{id}, false);
        return s.ok() ? *s : "";
    }
    bool is_special(int32_t id) const override { return id <= 2; }
    const std::string& chat_template() const override { return tmpl_; }
    const std::string& bos_token() const override { return bos_; }
    const std::string& eos_token() const override { return eos_; }
    int32_t bos_token_id() const override { return 1; }
    int32_t eos_token_id() const override { return 2; }

private:
    std::string tmpl_ = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
    std::string bos_ = "<s>", eos_ = "</s>";
};

// Keeps every request; the test calls emit() to play the engine thread.
class FakeEngine : public Engine {
public:
    struct Live {
        GenerationRequest request;
        OutputCallback cb;
    };
    Status add_request(GenerationRequest request, OutputCallback cb) override {
        std::lock_guard<std::mutex> lock(mu_);
        if (refuse_next) {
            refuse_next = false;
            return invalid_argument("prompt: refused by the engine");
        }
        const std::string id = request.id;  // the assignment below moves `request` first
        order.push_back(id);
        live[id] = {std::move(request), std::move(cb)};
        return Status::ok();
    }
    void abort_request(const std::string& id) override {
        std::lock_guard<std::mutex> lock(mu_);
        aborted.push_back(id);
    }
    EngineStats stats() const override {
        EngineStats s;
        s.num_waiting = num_waiting;
        return s;
    }
    int max_model_len() const override { return 64; }
    void shutdown(bool) override {}

    // One output of sequence `index` of request `id`: tokens decoded through the fake alphabet.
    void emit(const std::string& id, int index, std::vector<int32_t> tokens, bool finished,
              FinishReason reason = FinishReason::kLength) {
        RequestOutput out;
        out.request_id = id;
        out.index = index;
        FakeTokenizer tok;
        out.text_delta = *tok.decode(tokens, true);
        out.new_token_ids = std::move(tokens);
        out.finished = finished;
        out.finish_reason = finished ? reason : FinishReason::kNone;
        out.num_prompt_tokens = static_cast<int>(live.at(id).request.prompt_ids.size());
        live.at(id).cb(out);
    }
    // The abort outputs a real engine sends for each aborted request.
    void deliver_aborts() {
        for (const std::string& id : aborted) emit(id, 0, {}, true, FinishReason::kAbort);
        aborted.clear();
    }

    bool refuse_next = false;
    int num_waiting = 0;  // what stats() reports
    std::vector<std::string> order;
    std::map<std::string, Live> live;
    std::vector<std::string> aborted;

private:
    std::mutex mu_;
};

// Runs posted work inline (the test is the strand) and records the answer.
class FakeExchange : public Exchange {
public:
    void reply(HttpResponse r) override {
        replies.push_back(std::move(r));
    }
    void start_stream(int status, const std::string& content_type) override {
        stream_status = status;
        stream_type = content_type;
    }
    void write(std::string data) override { writes.push_back(std::move(data)); }
    void end() override { ended = true; }
    void post(std::function<void()> fn) override { fn(); }
    void post_after(int64_t, std::function<void()> fn) override { timers.push_back(std::move(fn)); }
    void on_close(std::function<void()> fn) override { close_fn = std::move(fn); }

    std::vector<HttpResponse> replies;
    int stream_status = 0;
    std::string stream_type;
    std::vector<std::string> writes;
    bool ended = false;
    std::function<void()> close_fn;
    std::vector<std::function<void()>> timers;
};

// A ready ServerState over the fakes.
inline void make_ready(ServerState& st, std::shared_ptr<FakeEngine> engine) {
    st.config.served_model_name = "toy";
    st.config.access_log = false;
    st.engine = engine;
    st.tokenizer = std::make_shared<FakeTokenizer>();
    st.limits.vocab_size = 32;
    st.limits.max_model_len = 64;
    st.set_ready();
}

}  // namespace kite::server::testing
