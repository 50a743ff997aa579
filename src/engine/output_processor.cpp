// Applying samples, stop conditions, text deltas and beam steps (see output_processor.h).
#include "engine/output_processor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "engine/beam_search.h"
#include "engine/stop_matcher.h"
#include "tokenizer/tokenizer.h"

namespace kite {
namespace {

constexpr int kDecoderContextTokens = 8;  // prompt tokens given to a decoder as context

bool contains(const std::vector<int32_t>& v, int32_t t) { return std::find(v.begin(), v.end(), t) != v.end(); }

}  // namespace

OutputProcessor::OutputProcessor(std::shared_ptr<const Tokenizer> tokenizer, std::vector<int32_t> eos_ids,
                                 int max_model_len, Scheduler& scheduler)
    : tokenizer_(std::move(tokenizer)), eos_ids_(std::move(eos_ids)), max_model_len_(max_model_len),
      scheduler_(scheduler) {}

double OutputProcessor::now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool OutputProcessor::is_eos(const Request& r, int32_t token) const {
    return !r.params.ignore_eos && contains(eos_ids_, token);
}

RequestOutput OutputProcessor::base_output(const Request& r, const Sequence& s) const {
    RequestOutput o;
    o.request_id = r.params.id;
    o.index = s.index;
    o.num_prompt_tokens = r.num_prompt_tokens();
    o.num_cached_tokens = std::max(0, r.num_cached_tokens);
    o.num_output_tokens = s.num_output_tokens();
    o.cumulative_logprob = s.cumulative_logprob;
    o.timings = r.timings;
    return o;
}

void OutputProcessor::fork_samples(Request& r) {
    Sequence& parent = r.seqs[0];
    for (int i = 1; i < r.params.n; ++i) {
        Sequence child;
        child.id = scheduler_.fork_seq(parent.id);
        child.index = i;
        child.tokens = parent.tokens;
        child.num_prompt_tokens = parent.num_prompt_tokens;
        child.num_computed_tokens = parent.num_computed_tokens;
        r.seqs.push_back(std::move(child));
    }
    r.forked = true;
}

// The text still held when a sequence ends: the decoder's tail, passed through the stop matcher
// (which may still cut it) and then the matcher's own held-back text. Nothing after a stop string;
// a stop string found here makes the finish reason "stop".
std::string OutputProcessor::final_text(Sequence& s, bool stop_checks_on) {
    if (!s.decoder || (s.stop_matcher && s.stop_matcher->stopped())) return "";
    std::string tail = s.decoder->flush();
    if (s.stop_matcher && stop_checks_on) {
        tail = s.stop_matcher->feed(tail);
        if (!s.stop_matcher->stopped()) tail += s.stop_matcher->flush();
        // A match the matcher held back (an earlier-starting stop string could still have
        // completed) lands only now: the sequence then ended on that stop string.
        if (s.stop_matcher->stopped()) {
            s.finish_reason = FinishReason::kStop;
            s.stop_reason = s.stop_matcher->matched();
        }
    }
    return tail;
}

void OutputProcessor::mark_final(Request& r, Sequence& s, RequestOutput& o) {
    r.timings.finish_s = now();
    o.timings = r.timings;
    o.finished = true;
    o.finish_reason = s.finish_reason;
    o.stop_reason = s.stop_reason;
    s.final_sent = true;
}

void OutputProcessor::append(Request& r, Sequence& s, const TokenLogprob& t) {
    const GenerationRequest& p = r.params;
    s.tokens.push_back(t.token);
    ++num_generation_tokens_;
    if (r.timings.first_token_s == 0) r.timings.first_token_s = now();
    if (p.sampling.logprobs >= 0) s.cumulative_logprob += t.logprob;
    if (!s.decoder && tokenizer_ && (p.stream_text || !p.stop.empty())) {
        const size_t ctx = std::min<size_t>(kDecoderContextTokens, s.prompt().size());
        s.decoder = std::make_unique<IncrementalDecoder>(
            tokenizer_, p.skip_special_tokens,
            std::vector<int32_t>(s.prompt().end() - long(ctx), s.prompt().end()));
        if (!p.stop.empty()) s.stop_matcher = std::make_unique<StopMatcher>(p.stop, p.include_stop_str_in_output);
    }

    RequestOutput o = base_output(r, s);
    o.new_token_ids = {t.token};
    if (p.sampling.logprobs >= 0) o.new_logprobs = {t};
    std::string text = s.decoder ? s.decoder->step(t.token) : std::string();
    const bool checks_on = s.num_output_tokens() >= p.min_new_tokens;
    if (checks_on && is_eos(r, t.token)) {
        s.finish_reason = FinishReason::kStop;
    } else if (checks_on && contains(p.stop_token_ids, t.token)) {
        s.finish_reason = FinishReason::kStop;
        s.stop_reason = std::to_string(t.token);
    }
    if (s.stop_matcher && checks_on && s.finish_reason == FinishReason::kNone) {
        text = s.stop_matcher->feed(text);
        if (s.stop_matcher->stopped()) {
            s.finish_reason = FinishReason::kStop;
            s.stop_reason = s.stop_matcher->matched();
        }
    }
    if (s.finish_reason == FinishReason::kNone &&
        (s.num_output_tokens() >= p.max_new_tokens || s.num_tokens() >= max_model_len_)) {
        s.finish_reason = FinishReason::kLength;
    }
    if (s.finish_reason != FinishReason::kNone) {
        s.finished = true;
        text += final_text(s, checks_on);
        mark_final(r, s, o);
    }
    o.num_output_tokens = s.num_output_tokens();
    o.cumulative_logprob = s.cumulative_logprob;
    if (p.stream_text) o.text_delta = std::move(text);
    if (r.on_output) r.on_output(o);
}

void OutputProcessor::process(const ScheduledBatch& batch, const StepOutput& out) {
    std::vector<Request*> beam_requests;
    for (size_t i = 0; i < batch.seqs.size(); ++i) {
        const ScheduledSeq& e = batch.seqs[i];
        if (!e.sample) continue;
        Request& r = *e.request;
        const SeqResult& res = out.results[i];
        if (r.is_beam_search()) {
            r.seqs[e.seq].beam_row = res.beam_row;
            if (std::find(beam_requests.begin(), beam_requests.end(), &r) == beam_requests.end())
                beam_requests.push_back(&r);
            continue;
        }
        if (res.chain) {
            // Accepted drafts, then the target's token: appended in order until one ends the
            // sequence (EOS, stop string, max tokens); the rest is dropped like any later token.
            Sequence& s = r.seqs[e.seq];
            for (const TokenLogprob& t : res.samples) {
                if (s.finished) break;
                append(r, s, t);
            }
        } else if (res.samples.size() > 1) {
            fork_samples(r);
            for (size_t k = 0; k < res.samples.size(); ++k) append(r, r.seqs[k], res.samples[k]);
        } else if (!res.samples.empty()) {
            append(r, r.seqs[e.seq], res.samples[0]);
        }
    }
    for (Request* r : beam_requests) {
        bool ready = true;
        for (const Sequence& s : r->seqs) ready = ready && (s.finished || !s.beam_row.empty());
        if (ready) beam_step(*r);
    }
}

void OutputProcessor::beam_step(Request& r) {
    const GenerationRequest& p = r.params;
    if (!r.beams) {
        std::vector<int32_t> eos = p.ignore_eos ? std::vector<int32_t>{} : eos_ids_;
        for (int32_t t : p.stop_token_ids) eos.push_back(t);
        r.beams = std::make_unique<BeamSearch>(p.num_beams, p.length_penalty, p.early_stopping, std::move(eos));
    }
    const int num_generated = r.seqs[0].num_output_tokens();
    std::vector<std::span<const float>> rows;
    std::vector<float> sums;
    std::vector<std::span<const int32_t>> outputs;
    for (Sequence& s : r.seqs) {
        if (num_generated < p.min_new_tokens) {  // HF's MinNewTokensLengthLogitsProcessor
            for (int32_t t : eos_ids_) {
                if (t >= 0 && t < static_cast<int32_t>(s.beam_row.size())) s.beam_row[t] = -std::numeric_limits<float>::infinity();
            }
            for (int32_t t : p.stop_token_ids) {
                if (t >= 0 && t < static_cast<int32_t>(s.beam_row.size())) s.beam_row[t] = -std::numeric_limits<float>::infinity();
            }
        }
        rows.emplace_back(s.beam_row);
        sums.push_back(s.cumulative_logprob);
        outputs.push_back(s.output());
    }
    const std::vector<BeamCandidate> next = r.beams->step(rows, sums, outputs, num_generated);

    std::vector<Sequence> beams;
    beams.reserve(static_cast<size_t>(p.num_beams));
    for (size_t k = 0; k < next.size(); ++k) {
        const Sequence& parent = r.seqs[static_cast<size_t>(next[k].parent)];
        Sequence b;
        b.id = scheduler_.fork_seq(parent.id);
        b.index = static_cast<int>(k);
        b.tokens = parent.tokens;
        b.tokens.push_back(next[k].token);
        b.num_prompt_tokens = parent.num_prompt_tokens;
        b.num_computed_tokens = parent.num_computed_tokens;
        b.cumulative_logprob = next[k].sum_logprob;
        beams.push_back(std::move(b));
    }
    for (const Sequence& s : r.seqs) scheduler_.free_seq(s.id);
    r.seqs = std::move(beams);
    r.forked = true;
    num_generation_tokens_ += static_cast<int64_t>(r.seqs.size());
    if (r.timings.first_token_s == 0) r.timings.first_token_s = now();

    const bool at_length = num_generated + 1 >= p.max_new_tokens ||
                           (!r.seqs.empty() && r.seqs[0].num_tokens() >= max_model_len_);
    if (r.beams->done() || at_length || r.seqs.empty()) finish_beams(r, FinishReason::kLength);
}

void OutputProcessor::finish_beams(Request& r, FinishReason reason) {
    const GenerationRequest& p = r.params;
    std::vector<BeamHypothesis> best;
    if (r.beams) {
        std::vector<std::span<const int32_t>> outputs;
        std::vector<float> sums;
        for (const Sequence& s : r.seqs) {
            outputs.push_back(s.output());
            sums.push_back(s.cumulative_logprob);
        }
        best = r.beams->finalize(outputs, sums, p.num_return_sequences);
    }
    r.timings.finish_s = now();
    for (size_t i = 0; i < static_cast<size_t>(p.num_return_sequences); ++i) {
        RequestOutput o;
        o.request_id = p.id;
        o.index = static_cast<int>(i);
        o.num_prompt_tokens = r.num_prompt_tokens();
        o.num_cached_tokens = std::max(0, r.num_cached_tokens);
        o.finished = true;
        o.finish_reason = reason;
        if (i < best.size()) {
            const BeamHypothesis& h = best[i];
            o.new_token_ids = h.output_ids;
            o.num_output_tokens = static_cast<int>(h.output_ids.size());
            o.cumulative_logprob = h.sum_logprob;
            o.score = h.score;
            if (reason != FinishReason::kAbort && !h.output_ids.empty() && is_eos(r, h.output_ids.back()))
                o.finish_reason = FinishReason::kStop;
            if (tokenizer_ && p.stream_text) {
                Result<std::string> text = tokenizer_->decode(h.output_ids, p.skip_special_tokens);
                if (text) o.text_delta = *text;
            }
        }
        o.timings = r.timings;
        if (r.on_output) r.on_output(o);
    }
    for (Sequence& s : r.seqs) {
        s.finished = true;
        s.final_sent = true;
        if (s.finish_reason == FinishReason::kNone) s.finish_reason = reason;
    }
}

void OutputProcessor::finish(Request& r, FinishReason reason, const Status& error) {
    if (r.is_beam_search()) {
        bool sent = !r.seqs.empty();
        for (const Sequence& s : r.seqs) sent = sent && s.final_sent;
        if (!sent) finish_beams(r, reason == FinishReason::kAbort || reason == FinishReason::kError ? reason
                                   : FinishReason::kLength);
        return;
    }
    for (Sequence& s : r.seqs) {
        if (s.final_sent) continue;
        s.finished = true;
        if (s.finish_reason == FinishReason::kNone) s.finish_reason = reason;
        RequestOutput o = base_output(r, s);
        if (s.finish_reason != FinishReason::kAbort && s.finish_reason != FinishReason::kError && r.params.stream_text)
            o.text_delta = final_text(s, s.num_output_tokens() >= r.params.min_new_tokens);
        mark_final(r, s, o);
        o.error = error;
        if (r.on_output) r.on_output(o);
    }
    // A request aborted before its first token still owes outputs 1..n-1.
    if (!r.forked && r.params.n > 1 && !r.seqs.empty()) {
        for (int i = 1; i < r.params.n; ++i) {
            RequestOutput o = base_output(r, r.seqs[0]);
            o.index = i;
            o.num_output_tokens = 0;
            o.finished = true;
            o.finish_reason = reason;
            o.error = error;
            if (r.on_output) r.on_output(o);
        }
        r.forked = true;
    }
}

void OutputProcessor::fail(Request& r, const Status& error) {
    for (Sequence& s : r.seqs) {
        if (!s.final_sent) s.finish_reason = FinishReason::kError;
    }
    finish(r, FinishReason::kError, error);
}

}  // namespace kite
