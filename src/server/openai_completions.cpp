// POST /v1/completions: OpenAI's legacy completions (prompt as text, ids, or lists of either; echo,
// logprobs with tokens / token_logprobs / top_logprobs / text_offset, streaming with usage).
#include <unordered_map>
#include <unordered_set>

#include "server/api_common.h"
#include "server/json_fields.h"
#include "server/structured_output.h"
#include "server/sse.h"

namespace kite::server {

namespace {

using nlohmann::json;

constexpr size_t kMaxPrompts = 64;

class CompletionsApi : public GenerationApi {
public:
    void stream_delta(GenerationJob& job, const ChoiceDelta& d) override {
        std::string text = d.text;
        if (job.options().echo && echoed_.insert(d.choice).second)
            text = job.subs()[job.choices()[d.choice].sub].prompt_text + text;
        // Tokens that decode to no text yet (part of a UTF-8 character, a held-back stop string, a
        // skipped special token) send no chunk; their logprobs ride with the next chunk that has text.
        std::vector<TokenLogprob>& held = held_[d.choice];
        held.insert(held.end(), d.logprobs.begin(), d.logprobs.end());
        if (text.empty() && !d.finished) return;
        json choice = {{"index", d.choice}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
        if (job.options().logprobs >= 0) choice["logprobs"] = logprobs_json(job, d.choice, held);
        held.clear();
        if (d.finished) choice["finish_reason"] = openai_finish_reason(job.choices()[d.choice].reason);
        job.write(sse_data(dump(chunk(job, json::array({choice})))));
    }

    void stream_end(GenerationJob& job, const Status& error) override { openai_stream_end(job, "text_completion", error); }

    HttpResponse response(GenerationJob& job) override {
        json choices = json::array();
        for (size_t i = 0; i < job.choices().size(); ++i) {
            const ChoiceState& c = job.choices()[i];
            std::string text = job.options().echo ? job.subs()[c.sub].prompt_text + c.text : c.text;
            json lp = nullptr;
            if (job.options().logprobs >= 0) lp = logprobs_json(job, static_cast<int>(i), c.logprobs);
            choices.push_back({{"index", i}, {"text", text}, {"logprobs", lp},
                               {"finish_reason", openai_finish_reason(c.reason)}});
        }
        json body = chunk(job, choices);
        body["usage"] = usage_json(job);
        HttpResponse r;
        r.body = dump(body);
        return r;
    }

private:
    static json chunk(GenerationJob& job, json choices) { return openai_chunk(job, "text_completion", std::move(choices)); }

    // OpenAI's completion logprobs for the given tokens of one choice; text_offset continues from
    // where the previous piece of this choice ended.
    json logprobs_json(GenerationJob& job, int choice, const std::vector<TokenLogprob>& lps) {
        const Tokenizer& tok = *job.state().tokenizer;
        json tokens = json::array(), token_lps = json::array(), tops = json::array(), offsets = json::array();
        size_t& offset = offsets_[choice];
        for (const TokenLogprob& t : lps) {
            std::string s = token_text(tok, t.token);
            tokens.push_back(s);
            token_lps.push_back(t.logprob);
            json top = json::object();
            for (const auto& [id, lp] : t.top) top[token_text(tok, id)] = lp;
            tops.push_back(top);
            offsets.push_back(offset);
            offset += s.size();
        }
        return {{"tokens", tokens}, {"token_logprobs", token_lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
    }

    std::unordered_map<int, size_t> offsets_;
    std::unordered_map<int, std::vector<TokenLogprob>> held_;  // logprobs of tokens not yet streamed
    std::unordered_set<int> echoed_;
};

}  // namespace

void handle_completions(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    if (Status s = check_model(st, *body); !s.is_ok()) return respond_error(st, req, *ex, s);
    auto parsed = parse_generation(*body, ApiKind::kCompletions, st.limits);
    if (!parsed.ok()) return respond_error(st, req, *ex, parsed.status());
    if (Status s = apply_structured_output(st, *body, parsed->request); !s.is_ok()) return respond_error(st, req, *ex, s);
    auto inputs = parse_prompts(*body, "prompt", st.limits.vocab_size, kMaxPrompts);
    if (!inputs.ok()) return respond_error(st, req, *ex, inputs.status());
    std::vector<PreparedPrompt> prompts;
    for (PromptInput& in : *inputs) {
        PreparedPrompt p;
        if (in.is_ids) {
            p.ids = std::move(in.ids);
            auto text = st.tokenizer->decode(p.ids, /*skip_special_tokens=*/false);
            if (text.ok()) p.text = *text;
        } else {
            auto ids = encode_text(st, in.text, /*add_special_tokens=*/true, "prompt");
            if (!ids.ok()) return respond_error(st, req, *ex, ids.status());
            p.ids = std::move(*ids);
            p.text = std::move(in.text);
        }
        prompts.push_back(std::move(p));
    }
    launch_generation(st, req, ex, std::move(*parsed), ApiKind::kCompletions, std::move(prompts),
                      std::make_unique<CompletionsApi>(), "cmpl-");
}

}  // namespace kite::server
