// One row of logits -> the next token: logit bias, penalties (HF repetition, OpenAI presence and
// frequency), then HF's warper order (temperature, top-k, top-p, min-p) and a seeded draw; plus
// log-probabilities of the raw logits. The order and its reasons are in docs/sampling.md.
#include "engine/sampling.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace kite {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr size_t kHeapMaxK = 1024;        // above this, nth_element beats a size-k heap
constexpr size_t kTopPBuckets = 2048;     // bins per refinement of the top-p cut
constexpr int32_t kLastBucket = static_cast<int32_t>(kTopPBuckets) - 1;
constexpr size_t kTopPSortBelow = 512;    // top-p sorts a range this small instead of binning it

struct Cand {
    float logit;
    int32_t id;
    float weight;  // exp((logit - max) / T), once the candidate is kept (no initializer: resize
                   // of a 150k buffer then zero-fills instead of running a constructor per entry)
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
        size_t i = 0;
        for (; i < row.size() && out.size() < k; ++i) {
            if (!drawable(row[i])) continue;
            out.push_back({row[i], static_cast<int32_t>(i), 0.0f});
            std::push_heap(out.begin(), out.end(), ranks_before);
        }
        float worst = out.empty() ? kInf : out.front().logit;  // kept in a register
        for (; i < row.size(); ++i) {
            if (!(row[i] >= worst)) continue;  // the common case; also drops NaN
            const Cand c{row[i], static_cast<int32_t>(i), 0.0f};
            if (!ranks_before(c, out.front())) continue;  // a tie with a lower id already kept
            std::pop_heap(out.begin(), out.end(), ranks_before);
            out.back() = c;
            std::push_heap(out.begin(), out.end(), ranks_before);
            worst = out.front().logit;
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

// Softmax weights exp((x - max) * inv_t) of a whole row, 8 lanes at a time with GCC vector
// extensions (AVX2 instructions where the build enables them): expf per element was half the
// cost of a draw over 150k tokens. Writes w[i] when `w` is given (0 for -inf and NaN logits, 1
// for x == max so an infinite inv_t or max stays finite) and returns the sum, in double.
using F8 = float __attribute__((vector_size(32)));
using I8 = int32_t __attribute__((vector_size(32)));

// x = e^x in place (by reference: vectors passed by value change ABI without AVX), for x <= 0.
// x = n ln2 + r with |r| <= ln2 / 2, e^r by the classic single-precision minimax polynomial
// (about 2 ulp), 2^n added to the exponent bits. Below -86 (e^-86 = 4e-38, no weight next to
// the max's 1) it gives 0, which also keeps 2^n a normal number.
inline void exp_nonpositive(F8& x) {
    const F8 zero = {};
    const I8 under = x < (zero - 86.0f);
    x = under ? zero - 86.0f : x;
    const F8 round = zero + 12582912.0f;  // 1.5 * 2^23: adding it rounds to the nearest integer
    const F8 t = x * 1.44269504f + round;
    const F8 n = t - round;
    const I8 ni = __builtin_bit_cast(I8, t) - __builtin_bit_cast(I8, round);
    const F8 r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln2 split in two for exactness
    F8 q = r * 1.9875691500e-4f + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    q = q * (r * r) + r + 1.0f;
    const I8 bits = __builtin_bit_cast(I8, q) + (ni << 23);
    x = under ? zero : __builtin_bit_cast(F8, bits);
}

double softmax_weights(std::span<const float> row, float max, float inv_t, float* w) {
    constexpr size_t kLanes = 8, kBlock = 256;  // float lanes sum a block, then into double
    const F8 zero = {};
    auto weights = [&](const F8& x, F8& e) {
        e = (x - max) * inv_t;
        exp_nonpositive(e);
        e = x > -kInf ? (x == max ? zero + 1.0f : e) : zero;
    };
    const size_t n = row.size(), full = n - n % kLanes;
    double total = 0.0;
    F8 x, e;
    for (size_t b = 0; b < full; b += kBlock) {
        F8 acc = zero;
        for (size_t i = b; i < std::min(full, b + kBlock); i += kLanes) {
            std::memcpy(&x, row.data() + i, sizeof x);
            weights(x, e);
            if (w) std::memcpy(w + i, &e, sizeof e);
            acc += e;
        }
        for (size_t l = 0; l < kLanes; ++l) total += acc[l];
    }
    if (full < n) {  // the last partial vector, padded with weightless -inf
        x = zero - kInf;
        std::memcpy(&x, row.data() + full, (n - full) * sizeof(float));
        weights(x, e);
        if (w) std::memcpy(w + full, &e, (n - full) * sizeof(float));
        for (size_t l = 0; l < kLanes; ++l) total += e[l];
    }
    return total;
}

// The largest value, NaN ignored (-inf when there is none), 8 lanes at a time: the scalar
// compare-and-branch loop cost more than a whole top-k draw.
float row_max(std::span<const float> row) {
    const F8 zero = {};
    F8 m = zero - kInf, x;
    size_t i = 0;
    for (; i + 8 <= row.size(); i += 8) {
        std::memcpy(&x, row.data() + i, sizeof x);
        m = x > m ? x : m;
    }
    float best = -kInf;
    for (size_t l = 0; l < 8; ++l) best = m[l] > best ? m[l] : best;
    for (; i < row.size(); ++i) best = row[i] > best ? row[i] : best;
    return best;
}

// log-softmax(x) = (x - max) - log_sum, with log_sum = log(sum(exp(x - max))). Subtracting the
// max keeps exp() in range; summing short blocks into a double keeps 150k small terms exact enough.
// When the max is infinite, the entries equal to it share the whole mass (the limit case).
struct LogNorm {
    float max = -kInf;
    float log_sum = 0.0f;
    float of(float x) const { return (x == max ? 0.0f : x - max) - log_sum; }
};

LogNorm log_normalizer(std::span<const float> row) {
    LogNorm n;
    n.max = row_max(row);
    if (std::isinf(n.max)) {
        size_t count = 0;
        for (float x : row) count += (x == n.max);
        n.log_sum = count > 0 ? std::log(static_cast<float>(count)) : 0.0f;
        return n;
    }
    n.log_sum = static_cast<float>(std::log(softmax_weights(row, n.max, 1.0f, nullptr)));
    return n;
}

// Lowest id among the largest values (NaN ignored); 0 when nothing beats -inf.
int32_t argmax(std::span<const float> row) {
    const float best = row_max(row);
    if (!drawable(best)) return 0;
    for (size_t i = 0; i < row.size(); ++i)
        if (row[i] == best) return static_cast<int32_t>(i);
    return 0;
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

// Top-p bins logits by distance from the best one: monotone in the logit (a better logit never
// lands in a later bin), so bins respect the ranking and the cumulative mass of whole bins finds
// the bin where top_p is crossed without sorting. Only that bin is refined.
struct Bins {
    float top = 0.0f, scale = 0.0f;
    std::array<double, kTopPBuckets> mass;
    // False when the logits cannot be binned (all equal, or an infinite spread).
    bool init(float best, float worst) {
        const float spread = best - worst;
        if (!(spread > 0.0f) || !std::isfinite(spread)) return false;
        top = best;
        scale = static_cast<float>(kTopPBuckets) / spread;
        mass.fill(0.0);
        return true;
    }
    size_t of(float x) const {  // via int32: a float -> size_t conversion costs a branch on x86
        return static_cast<size_t>(std::min(kLastBucket, static_cast<int32_t>((top - x) * scale)));
    }
    // The first bin whose mass takes `acc` to `target` (adding the bins before it to acc), or
    // kTopPBuckets when even all of them fall short.
    size_t cut(double& acc, double target) const {
        size_t b = 0;
        while (b < kTopPBuckets && acc + mass[b] < target) acc += mass[b++];
        return b;
    }
};

// Nucleus: kept[0, lo) is already in, with weight `acc`, and ranks before kept[lo, ..); shrinks
// the rest to the smallest best-first prefix taking the weight to `target` (at least one token
// overall). Ranges too large to sort are re-binned first.
void refine_top_p(std::vector<Cand>& kept, size_t lo, double acc, double target) {
    thread_local std::vector<Cand> boundary;
    thread_local Bins bins;
    while (kept.size() - lo > kTopPSortBelow) {
        const auto [min_it, max_it] = std::minmax_element(
            kept.begin() + static_cast<ptrdiff_t>(lo), kept.end(),
            [](const Cand& a, const Cand& b) { return a.logit < b.logit; });
        if (!bins.init(max_it->logit, min_it->logit)) break;  // all equal: only ids order them
        for (size_t i = lo; i < kept.size(); ++i) bins.mass[bins.of(kept[i].logit)] += kept[i].weight;
        const size_t cut = bins.cut(acc, target);
        if (cut == kTopPBuckets) return;  // never reached: min-p cut deeper than top-p (or rounding)
        // One pass: bins before the cut stay, the cut's bin moves to the end, later bins go.
        boundary.clear();
        size_t j = lo;
        for (size_t i = lo; i < kept.size(); ++i) {
            const size_t b = bins.of(kept[i].logit);
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
    kept.clear();

    float max = -kInf, min = kInf;  // over the drawable logits; min only for top-p's bins
    if (use_top_k) {
        select_top_k(row, static_cast<size_t>(p.top_k), kept);
        for (const Cand& c : kept) max = std::max(max, c.logit);
    } else {
        max = row_max(row);
        if (use_top_p)
            for (float x : row) min = drawable(x) && x < min ? x : min;
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
    auto passes_min_p = [&](float x) { return drawable(x) && x >= min_p_threshold; };

    // x == max is special-cased so that an infinite max or a tiny temperature (inv_t = inf)
    // still gives the best tokens weight 1 instead of NaN (as softmax_weights does).
    auto weight = [&](float x) { return x == max ? 1.0f : std::exp((x - max) * inv_t); };
    if (use_top_k) {
        double z = 0.0;
        for (Cand& c : kept) {
            c.weight = weight(c.logit);
            z += c.weight;
        }
        std::erase_if(kept, [&](const Cand& c) { return !passes_min_p(c.logit); });
        if (use_top_p) refine_top_p(kept, 0, 0.0, static_cast<double>(p.top_p) * z);
        return;
    }
    if (!use_top_p) {  // min-p alone needs no total mass: weigh only the survivors
        for (size_t i = 0; i < row.size(); ++i)
            if (passes_min_p(row[i])) kept.push_back({row[i], static_cast<int32_t>(i), weight(row[i])});
        return;
    }

    thread_local std::vector<float> w;
    w.resize(row.size());
    const double z = softmax_weights(row, max, inv_t, w.data());
    thread_local Bins bins;
    if (!bins.init(max, min)) {
        for (size_t i = 0; i < row.size(); ++i)
            if (passes_min_p(row[i])) kept.push_back({row[i], static_cast<int32_t>(i), w[i]});
        refine_top_p(kept, 0, 0.0, static_cast<double>(p.top_p) * z);
        return;
    }
    // Top-p straight from the row: one binning pass over it, so that only the nucleus (the bins
    // before the cut, then the cut's bin to refine) ever becomes candidates.
    const double target = static_cast<double>(p.top_p) * z;
    for (size_t i = 0; i < row.size(); ++i)
        if (drawable(row[i])) bins.mass[bins.of(row[i])] += w[i];
    double acc = 0.0;
    const size_t cut = bins.cut(acc, target);
    thread_local std::vector<Cand> boundary;
    kept.resize(row.size());  // filled by index: push_back was a third of this loop's cost
    boundary.resize(row.size());
    size_t n_in = 0, n_boundary = 0;
    for (size_t i = 0; i < row.size(); ++i) {
        if (!passes_min_p(row[i])) continue;
        const size_t b = bins.of(row[i]);
        if (b < cut) kept[n_in++] = {row[i], static_cast<int32_t>(i), w[i]};
        else if (b == cut) boundary[n_boundary++] = {row[i], static_cast<int32_t>(i), w[i]};
    }
    std::copy_n(boundary.begin(), n_boundary, kept.begin() + static_cast<ptrdiff_t>(n_in));
    kept.resize(n_in + n_boundary);
    refine_top_p(kept, n_in, acc, target);
}

// Untruncated (no top-k, top-p or min-p): draw straight from the weights, in id order as
// kept_candidates would list them, without building candidates.
int32_t draw_untruncated(std::span<const float> row, float inv_t, SamplerRng& rng) {
    const float max = row_max(row);
    if (!drawable(max)) return argmax(row);
    thread_local std::vector<float> w;
    w.resize(row.size());
    const double total = softmax_weights(row, max, inv_t, w.data());
    const double u = rng.uniform() * total;
    double acc = 0.0;
    size_t last = 0;  // the last token with weight: where rounding in `total` may leave u
    for (size_t i = 0; i < row.size(); ++i) {
        if (w[i] <= 0.0f) continue;
        acc += w[i];
        if (acc > u) return static_cast<int32_t>(i);
        last = i;
    }
    return static_cast<int32_t>(last);
}

int32_t draw(std::span<const float> row, const SamplingParams& p, SamplerRng& rng) {
    const bool use_top_k = p.top_k > 0 && static_cast<size_t>(p.top_k) < row.size();
    if (!use_top_k && p.top_p >= 1.0f && p.min_p <= 0.0f) return draw_untruncated(row, 1.0f / p.temperature, rng);
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

void apply_penalties(std::span<float> logits, const SamplingParams& params, std::span<const int32_t> prompt_ids,
                     std::span<const int32_t> output_ids) {
    apply_logit_bias(logits, params.logit_bias);
    if (params.repetition_penalty != 1.0f)
        apply_repetition_penalty(logits, prompt_ids, output_ids, params.repetition_penalty);
    if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f)
        apply_presence_frequency(logits, output_ids, params.presence_penalty, params.frequency_penalty);
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

    apply_penalties(logits, params, prompt_ids, output_ids);
    out.token = params.is_greedy() ? argmax(logits) : draw(logits, params, rng);
    if (params.logprobs >= 0) out.logprob = norm.of(raw[out.token]);
    return out;
}

}  // namespace kite
