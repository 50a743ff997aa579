// One row of logits -> the next token: logit bias, penalties (HF repetition, OpenAI presence and
// frequency), then HF's warper order (temperature, top-k, top-p, min-p) and a seeded draw; plus
// log-probabilities of the raw logits. The order and its reasons are in docs/sampling.md.
#include "engine/sampling.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace kite {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kMaxLogprobs = 20;          // OpenAI's limit on top_logprobs
constexpr float kMaxLogitBias = 100.0f;   // OpenAI's range for logit_bias values
constexpr size_t kHeapMaxK = 1024;        // above this, nth_element beats a size-k heap
constexpr size_t kTopPBuckets = 2048;     // bins per refinement of the top-p cut
constexpr size_t kTopPSortBelow = 512;    // top-p sorts a range this small instead of binning it

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

struct Cand {
    float logit;
    int32_t id;
    float weight = 0.0f;  // exp((logit - max) / T), once the candidate is kept
};

// Larger logit first, lower id on ties: every selection and sort below is deterministic, so the
// same seed gives the same token whatever the standard library's sort does with equal keys.
inline bool ranks_before(const Cand& a, const Cand& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// -inf (masked) and NaN (a broken model) can never be drawn.
inline bool drawable(float x) { return x > -kInf; }

// The best k drawable entries of `row`, in no particular (but deterministic) order.
void select_top_k(std::span<const float> row, size_t k, std::vector<Cand>& out) {
    out.clear();
    if (k == 0) return;
    if (k <= kHeapMaxK) {
        // A heap whose front is the worst kept entry: most tokens fail one comparison with it.
        out.reserve(k);
        for (size_t i = 0; i < row.size(); ++i) {
            if (!drawable(row[i])) continue;
            Cand c{row[i], static_cast<int32_t>(i), 0.0f};
            if (out.size() < k) {
                out.push_back(c);
                std::push_heap(out.begin(), out.end(), ranks_before);
            } else if (ranks_before(c, out.front())) {
                std::pop_heap(out.begin(), out.end(), ranks_before);
                out.back() = c;
                std::push_heap(out.begin(), out.end(), ranks_before);
            }
        }
        return;
    }
    out.reserve(row.size());
    for (size_t i = 0; i < row.size(); ++i)
        if (drawable(row[i])) out.push_back({row[i], static_cast<int32_t>(i), 0.0f});
    if (out.size() > k) {
        std::nth_element(out.begin(), out.begin() + static_cast<ptrdiff_t>(k), out.end(), ranks_before);
        out.resize(k);
    }
}

// log-softmax(x) = (x - max) - log_sum, with log_sum = log(sum(exp(x - max))). Subtracting the
// max keeps exp() in range; summing in double keeps 150k small terms from losing precision.
// When the max is infinite, the entries equal to it share the whole mass (the limit case).
struct LogNorm {
    float max = -kInf;
    float log_sum = 0.0f;
    float of(float x) const { return (x == max ? 0.0f : x - max) - log_sum; }
};

LogNorm log_normalizer(std::span<const float> row) {
    LogNorm n;
    for (float x : row)
        if (x > n.max) n.max = x;
    if (std::isinf(n.max)) {
        size_t count = 0;
        for (float x : row) count += (x == n.max);
        n.log_sum = count > 0 ? std::log(static_cast<float>(count)) : 0.0f;
        return n;
    }
    double sum = 0.0;
    for (float x : row)
        if (x == x) sum += std::exp(x - n.max);  // NaN entries are left out of the mass
    n.log_sum = static_cast<float>(std::log(sum));
    return n;
}

// Lowest id among the largest values (NaN ignored); 0 when nothing beats -inf.
int32_t argmax(std::span<const float> row) {
    int32_t best = 0;
    float best_x = -kInf;
    for (size_t i = 0; i < row.size(); ++i) {
        if (row[i] > best_x) {
            best_x = row[i];
            best = static_cast<int32_t>(i);
        }
    }
    return best;
}

void apply_logit_bias(std::span<float> row, const std::vector<std::pair<int32_t, float>>& bias) {
    for (const auto& [id, b] : bias)
        if (id >= 0 && static_cast<size_t>(id) < row.size()) row[id] += b;
}

// HF RepetitionPenaltyLogitsProcessor over the unique tokens of prompt + output. A flag per
// vocabulary entry (reset afterwards) keeps this O(tokens) instead of sorting a long prompt.
void apply_repetition_penalty(std::span<float> row, std::span<const int32_t> prompt,
                              std::span<const int32_t> output, float r) {
    thread_local std::vector<uint8_t> seen;
    if (seen.size() < row.size()) seen.resize(row.size(), 0);
    auto visit = [&](int32_t id) {
        if (id < 0 || static_cast<size_t>(id) >= row.size() || seen[id]) return;
        seen[id] = 1;
        row[id] = row[id] > 0.0f ? row[id] / r : row[id] * r;
    };
    auto reset = [&](int32_t id) {
        if (id >= 0 && static_cast<size_t>(id) < row.size()) seen[id] = 0;
    };
    for (int32_t id : prompt) visit(id);
    for (int32_t id : output) visit(id);
    for (int32_t id : prompt) reset(id);
    for (int32_t id : output) reset(id);
}

// OpenAI / vLLM: logit -= frequency * count, then -= presence if count > 0; output tokens only.
void apply_presence_frequency(std::span<float> row, std::span<const int32_t> output, float presence,
                              float frequency) {
    thread_local std::vector<int32_t> counts;
    if (counts.size() < row.size()) counts.resize(row.size(), 0);
    auto in_vocab = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < row.size(); };
    for (int32_t id : output)
        if (in_vocab(id)) ++counts[id];
    for (int32_t id : output) {
        if (!in_vocab(id) || counts[id] == 0) continue;  // zeroed: a repeat already handled
        row[id] -= frequency * static_cast<float>(counts[id]);
        row[id] -= presence;
        counts[id] = 0;
    }
}

// Nucleus over `kept` (weights set, `z` the mass of the distribution top-p sees): shrinks it to
// the smallest best-first set whose weight reaches top_p * z, at least one token. Sorting a flat
// 150k-token distribution per step would dominate the step, so the cut is found by bucketing:
// logits are binned by distance from the best, the bin where the cumulative mass crosses the
// target is found in one pass, and only that bin is refined (re-binned, or sorted once small).
void apply_top_p(std::vector<Cand>& kept, double z, float top_p) {
    const double target = static_cast<double>(top_p) * z;
    double acc = 0.0;  // weight of kept[0, lo), all ranked before kept[lo, ..)
    size_t lo = 0;
    thread_local std::vector<Cand> boundary;
    std::array<double, kTopPBuckets> mass;
    while (kept.size() - lo > kTopPSortBelow) {
        const auto [min_it, max_it] = std::minmax_element(
            kept.begin() + static_cast<ptrdiff_t>(lo), kept.end(),
            [](const Cand& a, const Cand& b) { return a.logit < b.logit; });
        const float top = max_it->logit, spread = top - min_it->logit;
        if (!(spread > 0.0f) || !std::isfinite(spread)) break;  // all equal: only ids order them
        // Monotone in the logit (better logit -> lower or equal bin), so bins respect the ranking.
        const float scale = static_cast<float>(kTopPBuckets) / spread;
        auto bin = [&](const Cand& c) {
            return std::min(kTopPBuckets - 1, static_cast<size_t>((top - c.logit) * scale));
        };
        mass.fill(0.0);
        for (size_t i = lo; i < kept.size(); ++i) mass[bin(kept[i])] += kept[i].weight;
        size_t cut = 0;
        while (cut < kTopPBuckets && acc + mass[cut] < target) acc += mass[cut++];
        if (cut == kTopPBuckets) return;  // never reached: min-p cut deeper than top-p (or rounding)
        // One pass: bins before the cut stay in place, the cut's bin moves to the end to be refined,
        // later bins are dropped.
        boundary.clear();
        size_t j = lo;
        for (size_t i = lo; i < kept.size(); ++i) {
            const size_t b = bin(kept[i]);
            if (b < cut) kept[j++] = kept[i];
            else if (b == cut) boundary.push_back(kept[i]);
        }
        kept.resize(j);
        kept.insert(kept.end(), boundary.begin(), boundary.end());
        lo = j;
    }
    std::sort(kept.begin() + static_cast<ptrdiff_t>(lo), kept.end(), ranks_before);
    for (size_t i = lo; i < kept.size(); ++i) {
        acc += kept[i].weight;
        if (acc >= target) {
            kept.resize(i + 1);
            return;
        }
    }
}

// The tokens a non-greedy draw may pick, after temperature, top-k, top-p and min-p (HF's order),
// into `kept` with their weights exp((x - max) / T), in a deterministic order (not necessarily
// sorted). Empty when no logit is drawable.
void kept_candidates(std::span<const float> row, const SamplingParams& p, std::vector<Cand>& kept) {
    const float inv_t = 1.0f / p.temperature;
    const bool use_top_k = p.top_k > 0 && static_cast<size_t>(p.top_k) < row.size();
    const bool use_top_p = p.top_p < 1.0f;
    // x == max is special-cased so that an infinite max or a tiny temperature (inv_t = inf)
    // still gives the best tokens weight 1 instead of NaN.
    auto weight = [&](float x, float max) { return x == max ? 1.0f : std::exp((x - max) * inv_t); };

    float max = -kInf;
    double z = 0.0;  // top-p's normalizer: the mass of what top-k left (or of everything)
    kept.clear();
    if (use_top_k) {
        select_top_k(row, static_cast<size_t>(p.top_k), kept);
        for (const Cand& c : kept) max = std::max(max, c.logit);
        for (Cand& c : kept) {
            c.weight = weight(c.logit, max);
            z += c.weight;
        }
    } else {
        for (float x : row)
            if (x > max) max = x;
    }
    if (!drawable(max)) {
        kept.clear();
        return;
    }

    // min-p keeps p >= min_p * p_max, i.e. (x - max) / T >= log(min_p). p_max is the argmax's,
    // which every earlier step keeps, and renormalizing does not change the ratio: so min-p only
    // intersects with the others and can filter first, as long as top-p's mass `z` is computed
    // before it (HF runs min-p last).
    const double min_p_threshold =
        p.min_p > 0.0f ? max + static_cast<double>(p.temperature) * std::log(static_cast<double>(p.min_p))
                       : -static_cast<double>(kInf);
    if (use_top_k) {
        std::erase_if(kept, [&](const Cand& c) { return c.logit < min_p_threshold; });
    } else {
        kept.reserve(row.size());
        for (size_t i = 0; i < row.size(); ++i) {
            const float x = row[i];
            if (!drawable(x)) continue;
            const float w = weight(x, max);
            z += w;
            if (x >= min_p_threshold) kept.push_back({x, static_cast<int32_t>(i), w});
        }
    }
    if (use_top_p) apply_top_p(kept, z, p.top_p);
}

int32_t draw(std::span<const float> row, const SamplingParams& p, SamplerRng& rng) {
    thread_local std::vector<Cand> kept;
    thread_local std::vector<double> cum;
    kept_candidates(row, p, kept);
    if (kept.empty()) return argmax(row);
    cum.resize(kept.size());
    double total = 0.0;
    for (size_t i = 0; i < kept.size(); ++i) {
        total += kept[i].weight;
        cum[i] = total;
    }
    // The first token whose cumulative weight passes u: token i has probability weight_i / total.
    const double u = rng.uniform() * total;
    const size_t i = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), u) - cum.begin());
    return kept[std::min(i, kept.size() - 1)].id;
}

void top_logprobs(std::span<const float> raw, const LogNorm& norm, int n, TokenLogprob& out) {
    thread_local std::vector<Cand> best;
    select_top_k(raw, static_cast<size_t>(n), best);
    std::sort(best.begin(), best.end(), ranks_before);
    out.top.clear();
    out.top.reserve(best.size());
    for (const Cand& c : best) out.top.emplace_back(c.id, norm.of(c.logit));
}

}  // namespace

Status SamplingParams::validate(int64_t vocab_size) const {
    if (!(temperature >= 0.0f) || std::isinf(temperature))
        return invalid_argument("temperature = " + num(temperature) +
                                " is invalid: expected a finite number >= 0 (0 means greedy)");
    if (top_k < -1)
        return invalid_argument("top_k = " + std::to_string(top_k) +
                                " is invalid: expected -1 or 0 (off) or a positive count");
    if (!(top_p > 0.0f && top_p <= 1.0f))
        return invalid_argument("top_p = " + num(top_p) + " is invalid: expected 0 < top_p <= 1");
    if (!(min_p >= 0.0f && min_p <= 1.0f))
        return invalid_argument("min_p = " + num(min_p) + " is invalid: expected 0 <= min_p <= 1");
    if (!(repetition_penalty > 0.0f) || std::isinf(repetition_penalty))
        return invalid_argument("repetition_penalty = " + num(repetition_penalty) +
                                " is invalid: expected a finite number > 0 (1 means off)");
    if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f))
        return invalid_argument("presence_penalty = " + num(presence_penalty) +
                                " is invalid: expected -2 <= presence_penalty <= 2");
    if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f))
        return invalid_argument("frequency_penalty = " + num(frequency_penalty) +
                                " is invalid: expected -2 <= frequency_penalty <= 2");
    for (const auto& [id, bias] : logit_bias) {
        if (id < 0 || id >= vocab_size)
            return invalid_argument("logit_bias: token id " + std::to_string(id) +
                                    " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
        if (!(bias >= -kMaxLogitBias && bias <= kMaxLogitBias))
            return invalid_argument("logit_bias: value " + num(bias) + " for token " + std::to_string(id) +
                                    " is invalid: expected -100 <= value <= 100");
    }
    if (logprobs < -1 || logprobs > kMaxLogprobs)
        return invalid_argument("logprobs = " + std::to_string(logprobs) +
                                " is invalid: expected -1 (off) or 0..20 top tokens");
    return Status::ok();
}

SamplerRng::SamplerRng(std::optional<uint64_t> seed) {
    if (seed) {
        gen_.seed(*seed);
        return;
    }
    // random_device may throw where no entropy source exists; the clock is a fine fallback for
    // an unseeded request (nothing promises it any particular output).
    uint64_t s;
    try {
        std::random_device rd;
        s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
        s = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    gen_.seed(s);
}

double SamplerRng::uniform() {
    // The top 53 bits as a multiple of 2^-53: exactly uniform on [0, 1), never 1.0, and the same
    // on every standard library (generate_canonical is neither, everywhere).
    return static_cast<double>(gen_() >> 11) * 0x1.0p-53;
}

void log_softmax_inplace(std::span<float> row) {
    const LogNorm norm = log_normalizer(row);
    for (float& x : row) x = norm.of(x);
}

std::vector<std::pair<int32_t, double>> sampling_distribution(std::span<const float> logits,
                                                              const SamplingParams& params) {
    std::vector<std::pair<int32_t, double>> out;
    if (logits.empty()) return out;
    std::vector<Cand> kept;
    if (!params.is_greedy()) kept_candidates(logits, params, kept);
    if (kept.empty()) {
        out.emplace_back(argmax(logits), 1.0);
        return out;
    }
    std::sort(kept.begin(), kept.end(), ranks_before);
    double total = 0.0;
    for (const Cand& c : kept) total += c.weight;
    for (const Cand& c : kept) out.emplace_back(c.id, c.weight / total);
    return out;
}

TokenLogprob sample_token(std::span<float> logits, const SamplingParams& params,
                          std::span<const int32_t> prompt_ids, std::span<const int32_t> output_ids,
                          SamplerRng& rng) {
    KITE_CHECK_MSG(!logits.empty(), "sample_token: empty logits row");
    TokenLogprob out;
    const bool penalize = params.repetition_penalty != 1.0f || params.presence_penalty != 0.0f ||
                          params.frequency_penalty != 0.0f;
    const bool modifies = penalize || !params.logit_bias.empty();

    // Logprobs describe the model's own distribution, so they are taken before anything below
    // changes the row; the raw row is kept only when something will change it.
    thread_local std::vector<float> raw_copy;
    std::span<const float> raw = logits;
    LogNorm norm;
    if (params.logprobs >= 0) {
        norm = log_normalizer(logits);
        if (params.logprobs > 0) top_logprobs(logits, norm, std::min(params.logprobs, kMaxLogprobs), out);
        if (modifies) {
            raw_copy.assign(logits.begin(), logits.end());
            raw = raw_copy;
        }
    }

    apply_logit_bias(logits, params.logit_bias);
    if (params.repetition_penalty != 1.0f)
        apply_repetition_penalty(logits, prompt_ids, output_ids, params.repetition_penalty);
    if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f)
        apply_presence_frequency(logits, output_ids, params.presence_penalty, params.frequency_penalty);

    out.token = params.is_greedy() ? argmax(logits) : draw(logits, params, rng);
    if (params.logprobs >= 0) out.logprob = norm.of(raw[out.token]);
    return out;
}

}  // namespace kite
