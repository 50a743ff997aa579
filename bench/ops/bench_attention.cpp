// paged_attention benchmark: a double-precision reference, numbered versions, a check of each
// (max error; a sequence's rows alone equal to its rows in the batch), then time.
//   bench_attention [--threads N] [--reps N]
// v1: the first kernel (scalar loops, exact expf); v2: ops/cpu/attention.cpp as built.
#include <cstring>
#include <numeric>

#include "bench_util.h"
#include "core/parallel.h"
#include "ops/cpu/kernels.h"

using namespace kite;
using namespace kite::bench;
using kite::ops::AttentionParams;

namespace {

// ---- v1, kept for comparison.
void attention_v1(const float* q, const float* k_pool, const float* v_pool, int64_t heads, int64_t kv_heads,
                     int64_t head_dim, int64_t block_size, std::span<const int32_t> query_start,
                     std::span<const int32_t> context_lens, const std::vector<std::vector<int32_t>>& block_tables,
                     const AttentionParams& p, float* out) {
    const int64_t num_seqs = static_cast<int64_t>(context_lens.size());
    const int64_t T = query_start[num_seqs];
    const int64_t group = heads / kv_heads;
    const int64_t slot_stride = kv_heads * head_dim;  // floats per token slot
    // Row -> sequence lookup so work can be split over (token, head) pairs.
    std::vector<int32_t> seq_of(T);
    for (int64_t s = 0; s < num_seqs; ++s)
        for (int32_t t = query_start[s]; t < query_start[s + 1]; ++t) seq_of[t] = static_cast<int32_t>(s);

    parallel_for(T * heads, 4, [&](int64_t begin, int64_t end) {
        std::vector<float> scores;
        for (int64_t item = begin; item < end; ++item) {
            const int64_t t = item / heads, h = item % heads, kvh = h / group;
            const int32_t s = seq_of[t];
            const int32_t n_new = query_start[s + 1] - query_start[s];
            const int64_t pos = context_lens[s] - n_new + (t - query_start[s]);
            const int64_t first = p.sliding_window > 0 ? std::max<int64_t>(0, pos - p.sliding_window + 1) : 0;
            const float* qv = q + (t * heads + h) * head_dim;
            const std::vector<int32_t>& table = block_tables[s];
            scores.resize(pos - first + 1);
            float mx = -INFINITY;
            for (int64_t j = first; j <= pos; ++j) {
                const float* kv = k_pool + (table[j / block_size] * block_size + j % block_size) * slot_stride + kvh * head_dim;
                float dot = 0.0f;
                for (int64_t d = 0; d < head_dim; ++d) dot += qv[d] * kv[d];
                dot *= p.scale;
                scores[j - first] = dot;
                mx = std::max(mx, dot);
            }
            float sum = 0.0f;
            for (float& sc : scores) {
                sc = std::exp(sc - mx);
                sum += sc;
            }
            const float inv = 1.0f / sum;
            float* o = out + (t * heads + h) * head_dim;
            std::fill(o, o + head_dim, 0.0f);
            for (int64_t j = first; j <= pos; ++j) {
                const float* vv = v_pool + (table[j / block_size] * block_size + j % block_size) * slot_stride + kvh * head_dim;
                const float w = scores[j - first] * inv;
                for (int64_t d = 0; d < head_dim; ++d) o[d] += w * vv[d];
            }
        }
    });
}

struct Case {
    const char* what;
    int64_t heads, kv_heads, D, block;
    std::vector<std::pair<int32_t, int32_t>> seqs;  // (context, new tokens)
};

}  // namespace

int main(int argc, char** argv) {
    set_num_threads(int_flag(argc, argv, "--threads", 1));
    const int reps = int_flag(argc, argv, "--reps", 5);
    const Case cases[] = {
        {"prefill 512 (100m)", 10, 5, 64, 16, {{512, 512}}},
        {"decode 8 x ctx 1024", 10, 5, 64, 16, {{1024, 1}, {1000, 1}, {900, 1}, {1024, 1}, {800, 1}, {1024, 1}, {700, 1}, {1024, 1}}},
        {"prefill 256 D=128 GQA4", 16, 4, 128, 16, {{256, 256}}},
        {"stories decode ctx 300", 8, 4, 8, 16, {{300, 1}}},
    };
    std::printf("threads %d\n%-26s %-4s %10s %9s %s\n", num_threads(), "case", "ver", "ms", "max_err", "alone_equal");
    for (const Case& c : cases) {
        int64_t blocks = 0, T = 0;
        std::vector<int32_t> qs = {0}, ctx;
        std::vector<std::vector<int32_t>> tables;
        for (auto [cl, n] : c.seqs) {
            std::vector<int32_t> tb;
            for (int64_t b = 0; b < (cl + c.block - 1) / c.block; ++b) tb.push_back(int32_t(blocks++));
            tables.push_back(tb);
            qs.push_back(qs.back() + n);
            ctx.push_back(cl);
            T += n;
        }
        const int64_t pool = blocks * c.block * c.kv_heads * c.D;
        const auto k = random_vec(pool, 1, -2, 2), v = random_vec(pool, 2), q = random_vec(T * c.heads * c.D, 3, -2, 2);
        AttentionParams p;
        p.scale = 1.0f / std::sqrt(float(c.D));
        // Reference for the last row of the first sequence only (all heads): enough to catch a wrong kernel.
        std::vector<double> ref(c.heads * c.D);
        {
            const int64_t t = qs[1] - 1, pos = ctx[0] - 1;
            for (int64_t h = 0; h < c.heads; ++h) {
                const int64_t kvh = h / (c.heads / c.kv_heads);
                std::vector<double> sc(pos + 1);
                double mx = -1e300, sum = 0;
                for (int64_t j = 0; j <= pos; ++j) {
                    double d = 0;
                    for (int64_t e = 0; e < c.D; ++e) d += double(q[(t * c.heads + h) * c.D + e]) * k[(j * c.kv_heads + kvh) * c.D + e];
                    mx = std::max(mx, sc[j] = d * p.scale);
                }
                for (double& s : sc) sum += (s = std::exp(s - mx));
                for (int64_t j = 0; j <= pos; ++j)
                    for (int64_t e = 0; e < c.D; ++e) ref[h * c.D + e] += sc[j] / sum * v[(j * c.kv_heads + kvh) * c.D + e];
            }
        }
        for (int ver = 1; ver <= 2; ++ver) {
            std::vector<float> out(T * c.heads * c.D);
            auto run = [&](const float* qq, std::span<const int32_t> qss, std::span<const int32_t> cl,
                           const std::vector<std::vector<int32_t>>& tb, float* o) {
                if (ver == 1) attention_v1(qq, k.data(), v.data(), c.heads, c.kv_heads, c.D, c.block, qss, cl, tb, p, o);
                else ops::cpu::paged_attention(qq, k.data(), v.data(), c.heads, c.kv_heads, c.D, c.D, c.block, qss, cl, tb, p, o);
            };
            run(q.data(), qs, ctx, tables, out.data());
            const std::vector<float> last(out.begin() + (qs[1] - 1) * c.heads * c.D, out.begin() + qs[1] * c.heads * c.D);
            const double err = max_rel_err(last, ref);
            // The last sequence alone must give the same bits as inside the batch.
            const size_t s = c.seqs.size() - 1;
            const int64_t rows = qs[s + 1] - qs[s], row = c.heads * c.D;
            std::vector<float> alone(rows * row);
            const std::vector<int32_t> qs1 = {0, int32_t(rows)}, ctx1 = {ctx[s]};
            run(q.data() + qs[s] * row, qs1, ctx1, {tables[s]}, alone.data());
            const bool same = std::memcmp(alone.data(), out.data() + qs[s] * row, alone.size() * sizeof(float)) == 0;
            const double sec = best_time(reps, [&] { run(q.data(), qs, ctx, tables, out.data()); });
            std::printf("%-26s v%-3d %10.3f %9.2e %s\n", c.what, ver, sec * 1e3, err, same ? "yes" : "NO");
        }
    }
    return 0;
}
