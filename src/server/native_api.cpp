// POST /: rtp-llm's native API. `prompt` (or `prompt_batch`), generation fields in generate_config
// or at the top level; answers {"response", "finished", "aux_info"} (lists of them for
// num_return_sequences > 1, "response_batch" for batches), streamed as "data:{json}" events ending
// with "data:[done]" when yield_generator is set (cumulative text unless return_incremental).
#include "server/api_common.h"
#include "server/json_fields.h"
#include "server/structured_output.h"
#include "server/sse.h"

namespace kite::server {

namespace {

using nlohmann::json;

constexpr size_t kMaxBatch = 64;

class NativeApi : public GenerationApi {
public:
    explicit NativeApi(bool batch) : batch_(batch) {}

    void stream_delta(GenerationJob& job, const ChoiceDelta& d) override {
        if (d.text.empty() && d.token_ids.empty() && !d.finished) return;
        if (sent_text_.empty()) {
            sent_text_.assign(job.choices().size(), 0);
            sent_ids_.assign(job.choices().size(), 0);
        }
        step_tokens_ = static_cast<int>(d.token_ids.size());
        job.write(sse_data(dump(body(job, job.options().return_incremental)), /*space_after_colon=*/false));
    }

    void stream_end(GenerationJob& job, const Status& error) override {
        if (!error.is_ok())
            job.write(sse_data(dump({{"error_code", 500}, {"message", error.message()}}), false));
        job.write(sse_native_done());
    }

    HttpResponse response(GenerationJob& job) override {
        sent_text_.assign(job.choices().size(), 0);
        sent_ids_.assign(job.choices().size(), 0);
        HttpResponse r;
        r.body = dump(body(job, false));
        return r;
    }

private:
    // The whole answer as of now; with `incremental`, only what was not sent before.
    json body(GenerationJob& job, bool incremental) {
        json per_prompt = json::array();
        for (size_t s = 0; s < job.subs().size(); ++s) per_prompt.push_back(prompt_json(job, s, incremental));
        if (batch_) return {{"response_batch", per_prompt}};
        return per_prompt[0];
    }

    json aux_json(GenerationJob& job, const SubRequest& sub, const ChoiceState& c) {
        const double now = now_seconds();
        json aux = {{"cost_time", (now - job.arrival_s()) * 1e3},
                    {"first_token_cost_time", sub.first_token_s > 0 ? (sub.first_token_s - job.arrival_s()) * 1e3 : 0.0},
                    {"iter_count", sub.timings.num_steps},
                    {"input_len", sub.prompt_ids.size()},
                    {"output_len", c.token_ids.size()},
                    {"step_output_len", step_tokens_},
                    {"reuse_len", sub.num_cached_tokens},
                    {"prefix_len", 0},
                    {"fallback_tokens", 0},
                    {"fallback_times", 0},
                    {"pd_sep", false}};
        if (job.options().return_output_ids || sub.num_choices > 1) aux["cum_log_probs"] = json::array({c.cumulative_logprob});
        return aux;
    }

    json prompt_json(GenerationJob& job, size_t s, bool incremental) {
        const SubRequest& sub = job.subs()[s];
        json texts = json::array(), auxes = json::array(), outs = json::array();
        bool finished = true;
        for (int k = 0; k < sub.num_choices; ++k) {
            const int ci = sub.first_choice + k;
            const ChoiceState& c = job.choices()[ci];
            finished = finished && c.finished;
            const size_t t0 = incremental ? sent_text_[ci] : 0, i0 = incremental ? sent_ids_[ci] : 0;
            texts.push_back(c.text.substr(std::min(t0, c.text.size())));
            outs.push_back(std::vector<int32_t>(c.token_ids.begin() + std::min(i0, c.token_ids.size()), c.token_ids.end()));
            sent_text_[ci] = c.text.size();
            sent_ids_[ci] = c.token_ids.size();
            auxes.push_back(aux_json(job, sub, c));
        }
        json out;
        if (sub.num_choices == 1) {
            out = {{"response", texts[0]}, {"finished", finished}, {"aux_info", auxes[0]}};
        } else {
            out = {{"response", texts}, {"finished", finished}, {"aux_info", auxes}};
        }
        if (job.options().return_output_ids) out["output_ids"] = outs;
        if (job.options().return_input_ids) out["input_ids"] = json::array({sub.prompt_ids});
        return out;
    }

    bool batch_;
    int step_tokens_ = 0;
    std::vector<size_t> sent_text_, sent_ids_;
};

}  // namespace

void handle_native(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    auto parsed = parse_generation(*body, ApiKind::kNative, st.limits);
    if (!parsed.ok()) return respond_error(st, req, *ex, parsed.status());
    if (Status s = apply_structured_output(st, *body, parsed->request); !s.is_ok()) return respond_error(st, req, *ex, s);
    std::vector<std::string> texts;
    bool batch = false;
    if (auto it = body->find("prompt_batch"); it != body->end() && !it->is_null()) {
        if (!it->is_array() || it->empty())
            return respond_error(st, req, *ex, invalid_argument("prompt_batch: expected a non-empty list of strings"));
        auto list = get_string_list(*body, "prompt_batch", kMaxBatch);
        if (!list.ok()) return respond_error(st, req, *ex, list.status());
        texts = std::move(*list);
        batch = true;
    } else {
        auto it_p = body->find("prompt");
        if (it_p == body->end() || it_p->is_null())
            return respond_error(st, req, *ex, invalid_argument("prompt: is required (or prompt_batch)"));
        if (it_p->is_string()) {
            texts.push_back(it_p->get<std::string>());
        } else {
            auto list = get_string_list(*body, "prompt", kMaxBatch);
            if (!list.ok()) return respond_error(st, req, *ex, list.status());
            if (list->empty()) return respond_error(st, req, *ex, invalid_argument("prompt: must not be an empty list"));
            texts = std::move(*list);
            batch = true;
        }
    }
    // Multi-token stop_words_list entries become stop strings.
    for (const auto& seq : parsed->stop_id_sequences) {
        auto s = st.tokenizer->decode(seq, /*skip_special_tokens=*/false);
        if (!s.ok() || s->empty())
            return respond_error(st, req, *ex, invalid_argument("stop_words_list: an entry does not decode to text"));
        parsed->request.stop.push_back(*s);
    }
    std::vector<PreparedPrompt> prompts;
    for (std::string& t : texts) {
        auto ids = encode_text(st, t, /*add_special_tokens=*/true, batch ? "prompt_batch" : "prompt");
        if (!ids.ok()) return respond_error(st, req, *ex, ids.status());
        prompts.push_back({std::move(*ids), std::move(t)});
    }
    launch_generation(st, req, ex, std::move(*parsed), ApiKind::kNative, std::move(prompts),
                      std::make_unique<NativeApi>(batch), "native-");
}

}  // namespace kite::server
