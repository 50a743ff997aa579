// Greedy and rejection-sampling verification of draft tokens (see spec_decode.h).
#include "engine/spec_decode.h"

#include <algorithm>

namespace kite {
namespace {

// Logprobs as sample_token reports them: of the raw logits (before penalties and warpers).
void fill_logprobs(std::span<const float> raw, int32_t token, int num_top, TokenLogprob& out) {
    std::vector<float> lp(raw.begin(), raw.end());
    log_softmax_inplace(lp);
    out.logprob = lp[size_t(token)];
    const int n = std::min<int>(std::min(num_top, kMaxLogprobs), static_cast<int>(lp.size()));
    if (n <= 0) return;
    std::vector<int32_t> ids(lp.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
        return lp[size_t(a)] > lp[size_t(b)] || (lp[size_t(a)] == lp[size_t(b)] && a < b);
    });
    for (int i = 0; i < n; ++i) out.top.emplace_back(ids[size_t(i)], lp[size_t(ids[size_t(i)])]);
}

}  // namespace

Verification verify_drafts(std::span<float> rows, size_t vocab, std::span<const int32_t> draft,
                           const SamplingParams& params, std::span<const int32_t> prompt_ids,
                           std::span<const int32_t> output_ids, SamplerRng& rng) {
    Verification v;
    std::vector<int32_t> output(output_ids.begin(), output_ids.end());
    for (size_t i = 0; i <= draft.size(); ++i) {
        std::span<float> row = rows.subspan(i * vocab, vocab);
        const bool has_draft = i < draft.size();
        if (params.is_greedy() || !has_draft) {
            // The target's own pick, exactly as without speculation; a greedy draft must equal it.
            TokenLogprob t = sample_token(row, params, prompt_ids, output, rng);
            const bool accepted = has_draft && t.token == draft[i];
            v.tokens.push_back(std::move(t));
            if (!accepted) return v;
            ++v.num_accepted;
            output.push_back(draft[i]);
            continue;
        }
        std::vector<float> raw;
        if (params.logprobs >= 0) raw.assign(row.begin(), row.end());
        apply_penalties(row, params, prompt_ids, output);
        const std::vector<std::pair<int32_t, double>> p = sampling_distribution(row, params);
        const int32_t d = draft[i];
        double p_d = 0.0;
        for (const auto& [id, prob] : p)
            if (id == d) p_d = prob;
        TokenLogprob t;
        if (rng.uniform() < p_d) {
            t.token = d;
        } else {
            // The residual max(p - q, 0) for q = delta(d): p without d, renormalised by 1 - p(d).
            const double u = rng.uniform() * (1.0 - p_d);
            double acc = 0.0;
            t.token = -1;
            for (const auto& [id, prob] : p) {
                if (id == d) continue;
                t.token = id;  // the last candidate absorbs rounding in the total
                acc += prob;
                if (acc > u) break;
            }
        }
        if (params.logprobs >= 0) fill_logprobs(raw, t.token, params.logprobs, t);
        const bool accepted = t.token == d;
        v.tokens.push_back(std::move(t));
        if (!accepted) return v;
        ++v.num_accepted;
        output.push_back(d);
    }
    return v;
}

}  // namespace kite
