// Beam search bookkeeping (see beam_search.h). The order of operations follows HF's
// BeamSearchScorer so that ties and early ends resolve the same way.
#include "engine/beam_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kite {

BeamSearch::BeamSearch(int num_beams, float length_penalty, bool early_stopping, std::vector<int32_t> eos_ids)
    : num_beams_(num_beams), length_penalty_(length_penalty), early_stopping_(early_stopping),
      eos_ids_(std::move(eos_ids)) {}

void BeamSearch::add(std::vector<int32_t> output_ids, float sum_logprob, int generated_len) {
    const double score = double(sum_logprob) / std::pow(double(generated_len), double(length_penalty_));
    if (static_cast<int>(hyps_.size()) < num_beams_ || score > worst_score_) {
        hyps_.push_back({std::move(output_ids), sum_logprob, score});
        if (static_cast<int>(hyps_.size()) > num_beams_) {
            // Drop the worst (the earliest added among equals), as HF's sorted((score, idx)) does.
            std::vector<size_t> order(hyps_.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return hyps_[a].score < hyps_[b].score; });
            worst_score_ = hyps_[order[1]].score;
            hyps_.erase(hyps_.begin() + static_cast<long>(order[0]));
        } else {
            worst_score_ = std::min(score, worst_score_);
        }
    }
}

bool BeamSearch::is_done(float best_sum, int generated_len) const {
    if (static_cast<int>(hyps_.size()) < num_beams_) return false;
    if (early_stopping_) return true;
    const double highest = double(best_sum) / std::pow(double(generated_len), double(length_penalty_));
    return worst_score_ >= highest;
}

std::vector<BeamCandidate> BeamSearch::step(const std::vector<std::span<const float>>& rows,
                                            const std::vector<float>& sums,
                                            const std::vector<std::span<const int32_t>>& outputs,
                                            int num_generated) {
    // Top k = max(2, 1 + #eos) * num_beams candidates over every beam's row; ties go to the lower
    // flat index (beam-major), i.e. the earlier beam, then the smaller token id.
    const size_t k = static_cast<size_t>(std::max<size_t>(2, 1 + eos_ids_.size()) * num_beams_);
    struct Flat {
        float v;
        int beam;
        int32_t token;
    };
    auto better = [](const Flat& a, const Flat& b) {
        if (a.v != b.v) return a.v > b.v;
        if (a.beam != b.beam) return a.beam < b.beam;
        return a.token < b.token;
    };
    std::vector<Flat> top;  // a small min-heap of the best k
    top.reserve(k + 1);
    for (int b = 0; b < static_cast<int>(rows.size()); ++b) {
        for (int32_t t = 0; t < static_cast<int32_t>(rows[b].size()); ++t) {
            Flat f{sums[b] + rows[b][t], b, t};
            if (top.size() < k) {
                top.push_back(f);
                std::push_heap(top.begin(), top.end(), better);
            } else if (better(f, top.front())) {
                std::pop_heap(top.begin(), top.end(), better);
                top.back() = f;
                std::push_heap(top.begin(), top.end(), better);
            }
        }
    }
    std::sort(top.begin(), top.end(), better);

    std::vector<BeamCandidate> next;
    for (size_t rank = 0; rank < top.size(); ++rank) {
        const Flat& f = top[rank];
        const bool is_eos = std::find(eos_ids_.begin(), eos_ids_.end(), f.token) != eos_ids_.end();
        if (is_eos) {
            if (static_cast<int>(rank) >= num_beams_) continue;
            std::vector<int32_t> ids(outputs[f.beam].begin(), outputs[f.beam].end());
            ids.push_back(f.token);
            add(std::move(ids), f.v, num_generated + 1);
        } else {
            next.push_back({f.beam, f.token, f.v});
        }
        if (static_cast<int>(next.size()) == num_beams_) break;
    }
    if (!top.empty()) done_ = done_ || is_done(top.front().v, num_generated + 1);
    return next;
}

std::vector<BeamHypothesis> BeamSearch::finalize(const std::vector<std::span<const int32_t>>& outputs,
                                                 const std::vector<float>& sums, int num_return) {
    if (!done_) {
        for (size_t b = 0; b < outputs.size(); ++b) {
            add(std::vector<int32_t>(outputs[b].begin(), outputs[b].end()), sums[b],
                static_cast<int>(outputs[b].size()));
        }
    }
    // Best first; among equal scores the later added first (HF pops from an ascending stable sort).
    std::vector<BeamHypothesis> sorted = hyps_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const BeamHypothesis& a, const BeamHypothesis& b) { return a.score < b.score; });
    std::vector<BeamHypothesis> best;
    for (int i = 0; i < num_return && !sorted.empty(); ++i) {
        best.push_back(std::move(sorted.back()));
        sorted.pop_back();
    }
    return best;
}

}  // namespace kite
