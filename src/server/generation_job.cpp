// The life of one generation request: submit, gather outputs on the strand, stream or reply, then
// account for it (metrics, access log, concurrency slot).
#include "server/generation_job.h"

#include <chrono>
#include <new>

#include "server/access_log.h"
#include "server/errors.h"
#include "server/json_fields.h"

namespace kite::server {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t unix_time() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* openai_finish_reason(FinishReason r) {
    switch (r) {
        case FinishReason::kLength: return "length";
        case FinishReason::kNone:
        case FinishReason::kStop:
        case FinishReason::kAbort:
        case FinishReason::kError: return "stop";
    }
    return "stop";
}

GenerationJob::GenerationJob(ServerState& state, const HttpRequest& req, std::shared_ptr<Exchange> exchange,
                             std::shared_ptr<GenerationApi> api, ApiOptions options, std::string id)
    : state_(state),
      exchange_(std::move(exchange)),
      api_(std::move(api)),
      options_(options),
      id_(std::move(id)),
      peer_(req.peer),
      method_(req.method),
      path_(req.path),
      created_(unix_time()),
      arrival_s_(req.received_s > 0 ? req.received_s : now_seconds()) {}

GenerationJob::~GenerationJob() {
    if (slot_held_) state_.release();
}

void GenerationJob::add(GenerationRequest request, std::string prompt_text) {
    SubRequest sub;
    sub.engine_id = id_ + "-" + std::to_string(subs_.size());
    sub.prompt_ids = request.prompt_ids;
    sub.prompt_text = std::move(prompt_text);
    sub.first_choice = static_cast<int>(choices_.size());
    sub.num_choices = request.num_beams > 1 ? request.num_return_sequences : request.n;
    for (int i = 0; i < sub.num_choices; ++i) {
        ChoiceState c;
        c.sub = static_cast<int>(subs_.size());
        choices_.push_back(std::move(c));
    }
    num_unfinished_ += sub.num_choices;
    request.id = sub.engine_id;
    sub_by_engine_id_[sub.engine_id] = static_cast<int>(subs_.size());
    subs_.push_back(std::move(sub));
    pending_.push_back(std::move(request));
}

void GenerationJob::start() {
    started_ = true;
    std::weak_ptr<GenerationJob> weak = weak_from_this();
    for (size_t i = 0; i < pending_.size(); ++i) {
        auto ex = exchange_;
        auto self = shared_from_this();
        // Runs on the engine thread: copy the output and hand it to the strand, nothing more.
        OutputCallback cb = [ex, self](const RequestOutput& out) {
            ex->post([self, out] { self->on_output(out); });
        };
        Status st = state_.engine->add_request(std::move(pending_[i]), std::move(cb));
        if (!st.is_ok()) {
            for (size_t k = 0; k < i; ++k) state_.engine->abort_request(subs_[k].engine_id);
            // The aborted ones may still call back; they find the job done.
            return fail_before_start(st);
        }
    }
    pending_.clear();
    exchange_->on_close([weak] {
        if (auto j = weak.lock()) {
            j->closed_ = true;
            j->cancel();
        }
    });
    if (options_.timeout_ms > 0) {
        exchange_->post_after(options_.timeout_ms, [weak] {
            if (auto j = weak.lock()) j->on_timeout();
        });
    }
    if (options_.stream) {
        exchange_->start_stream(200, "text/event-stream");
        api_->stream_begin(*this);
    }
}

void GenerationJob::fail_before_start(const Status& st) {
    done_ = true;
    const int status = http_status_for(st);
    exchange_->reply(error_response(st, param_of(st)));
    state_.metrics.count_http(status);
    if (state_.config.access_log)
        write_access_log({peer_, method_, path_, id_, status, -1, -1, -1, (now_seconds() - arrival_s_) * 1e3});
    state_.release();
    slot_held_ = false;
}

void GenerationJob::cancel() {
    if (done_) return;
    for (const SubRequest& s : subs_) state_.engine->abort_request(s.engine_id);
}

void GenerationJob::on_timeout() {
    if (done_) return;
    timed_out_ = true;
    cancel();
}

int64_t GenerationJob::num_prompt_tokens() const {
    int64_t n = 0;
    for (const SubRequest& s : subs_) n += static_cast<int64_t>(s.prompt_ids.size());
    return n;
}

int64_t GenerationJob::num_completion_tokens() const {
    int64_t n = 0;
    for (const ChoiceState& c : choices_) n += static_cast<int64_t>(c.token_ids.size());
    return n;
}

void GenerationJob::on_output(const RequestOutput& out) {
    if (done_) return;
    auto it = sub_by_engine_id_.find(out.request_id);
    if (it == sub_by_engine_id_.end()) return;
    SubRequest& sub = subs_[it->second];
    if (out.index < 0 || out.index >= sub.num_choices) return;
    const int ci = sub.first_choice + out.index;
    ChoiceState& c = choices_[ci];
    if (c.finished) return;

    const double now = now_seconds();
    if (!out.new_token_ids.empty()) {
        if (first_token_s_ == 0) {
            first_token_s_ = now;
            state_.metrics.observe_ttft(now - arrival_s_);
        }
        if (sub.first_token_s == 0) sub.first_token_s = now;
        if (c.last_token_s > 0) {
            const double itl = (now - c.last_token_s) / static_cast<double>(out.new_token_ids.size());
            for (size_t k = 0; k < out.new_token_ids.size(); ++k) state_.metrics.observe_itl(itl);
        }
        c.last_token_s = now;
    }
    sub.num_cached_tokens = out.num_cached_tokens;
    sub.timings = out.timings;
    c.token_ids.insert(c.token_ids.end(), out.new_token_ids.begin(), out.new_token_ids.end());
    c.logprobs.insert(c.logprobs.end(), out.new_logprobs.begin(), out.new_logprobs.end());
    c.text += out.text_delta;
    c.cumulative_logprob = out.cumulative_logprob;

    ChoiceDelta delta;
    delta.choice = ci;
    delta.text = out.text_delta;
    delta.token_ids = out.new_token_ids;
    delta.logprobs = out.new_logprobs;
    if (out.finished) {
        auto mark = [&](ChoiceState& x, FinishReason r) {
            if (x.finished) return;
            x.finished = true;
            x.reason = r;
            --num_unfinished_;
        };
        mark(c, out.finish_reason);
        c.stop_reason = out.stop_reason;
        delta.finished = true;
        if (out.finish_reason == FinishReason::kAbort || out.finish_reason == FinishReason::kError) {
            // One final output may stand for the whole request: end every sequence of it.
            for (int k = 0; k < sub.num_choices; ++k) mark(choices_[sub.first_choice + k], out.finish_reason);
            if (out.finish_reason == FinishReason::kError && error_.is_ok())
                error_ = out.error.is_ok() ? internal_error("the engine failed the request") : out.error;
        }
    }
    if (options_.stream && !closed_ && error_.is_ok()) api_->stream_delta(*this, delta);
    if (num_unfinished_ == 0) finish();
}

void GenerationJob::finish() {
    done_ = true;
    int status = 200;
    if (closed_) {
        status = 499;
    } else if (options_.stream) {
        Status err = error_;
        if (err.is_ok() && timed_out_)
            err = unavailable("request timed out after " + std::to_string(options_.timeout_ms) + " ms (timeout_ms)");
        api_->stream_end(*this, err);
        exchange_->end();
    } else if (!error_.is_ok()) {
        status = http_status_for(error_);
        exchange_->reply(error_response(error_));
    } else if (timed_out_) {
        status = 408;
        exchange_->reply(error_response(408, "request timed out after " + std::to_string(options_.timeout_ms) +
                                                 " ms (timeout_ms)", "timeout_ms"));
    } else {
        try {
            exchange_->reply(api_->response(*this));
        } catch (const std::bad_alloc&) {  // e.g. 1024 choices with logprobs on a full machine
            status = 500;
            exchange_->reply(error_response(500, "out of memory while building the response"));
        }
    }
    const double now = now_seconds();
    Metrics& m = state_.metrics;
    m.count_http(status);
    for (const ChoiceState& c : choices_) {
        const char* r = finish_reason_name(c.reason);
        m.count_finished(*r ? r : "none");
    }
    m.add_tokens(num_prompt_tokens(), num_completion_tokens());
    m.observe_e2e(now - arrival_s_);
    if (state_.config.access_log)
        write_access_log({peer_, method_, path_, id_, status, num_prompt_tokens(), num_completion_tokens(),
                          first_token_s_ > 0 ? (first_token_s_ - arrival_s_) * 1e3 : -1.0, (now - arrival_s_) * 1e3});
    state_.release();
    slot_held_ = false;
}

}  // namespace kite::server
