// CUDA forward benchmark on random weights of a config.json: prefill and batched decode tokens/s
// (logits copied back and argmax'd on the host every step, as the engine does), and the max
// |logit diff| of the CUDA forward against the CPU forward of the same weights.
//   bench_cuda_forward CONFIG [--prompt-len N] [--decode N] [--batch B ...] [--no-compare]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/device.h"
#include "model/model.h"

using namespace kite;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Run {
    int block_size = 16;
    int prompt_len = 128;
    int batch = 1;
    std::vector<std::vector<int32_t>> tokens, tables;
    std::vector<int> computed;
};

void setup(Run& r, int decode, int vocab) {
    const int blocks_per_seq = (r.prompt_len + decode) / r.block_size + 1;
    r.tokens.assign(r.batch, {});
    r.tables.assign(r.batch, {});
    r.computed.assign(r.batch, 0);
    for (int s = 0; s < r.batch; ++s) {
        for (int i = 0; i < r.prompt_len; ++i) r.tokens[s].push_back((i * 7 + s * 13 + 1) % vocab);
        for (int b = 0; b < blocks_per_seq; ++b) r.tables[s].push_back(s * blocks_per_seq + b);
    }
}

ForwardBatch step_batch(Run& r) {
    ForwardBatch b;
    b.query_start.push_back(0);
    for (int s = 0; s < r.batch; ++s) {
        for (int p = r.computed[s]; p < static_cast<int>(r.tokens[s].size()); ++p) {
            b.token_ids.push_back(r.tokens[s][p]);
            b.positions.push_back(p);
            b.slot_mapping.push_back(int64_t(r.tables[s][p / r.block_size]) * r.block_size + p % r.block_size);
        }
        b.query_start.push_back(static_cast<int32_t>(b.token_ids.size()));
        b.context_lens.push_back(static_cast<int32_t>(r.tokens[s].size()));
        b.block_tables.push_back(std::vector<int32_t>(r.tables[s].begin(),
                                                      r.tables[s].begin() + (r.tokens[s].size() + r.block_size - 1) / r.block_size));
        b.logits_indices.push_back(static_cast<int32_t>(b.token_ids.size()) - 1);
        r.computed[s] = static_cast<int>(r.tokens[s].size());
    }
    return b;
}

void append_argmax(Run& r, const Tensor& logits) {
    const int64_t V = logits.dim(1);
    for (int s = 0; s < r.batch; ++s) {
        const float* row = logits.data<float>() + s * V;
        r.tokens[s].push_back(static_cast<int32_t>(std::max_element(row, row + V) - row));
    }
}

int fail(const Status& st) {
    std::fprintf(stderr, "bench_cuda_forward: %s\n", st.message().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_cuda_forward CONFIG [--prompt-len N] [--decode N] [--batch B ...] [--no-compare]\n");
        return 2;
    }
    int prompt_len = 128, decode = 64;
    bool compare = true;
    std::vector<int> batches;
    for (int i = 2; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--prompt-len") && i + 1 < argc) prompt_len = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--decode") && i + 1 < argc) decode = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) batches.push_back(std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--no-compare")) compare = false;
        else {
            std::fprintf(stderr, "bench_cuda_forward: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (batches.empty()) batches = {1};
    if (prompt_len < 1 || decode < 1) {
        std::fprintf(stderr, "bench_cuda_forward: --prompt-len and --decode must be positive\n");
        return 2;
    }
    std::string why;
    if (!cuda_available(&why)) {
        std::fprintf(stderr, "bench_cuda_forward: %s\n", why.c_str());
        return 1;
    }
    LoadOptions lo;
    lo.dummy_weights = true;
    lo.dummy_seed = 1;
    LoadOptions glo = lo;
    glo.device = Device::kCuda;
    const double t_load = now_s();
    auto gpu = load_model(argv[1], glo);
    if (!gpu.ok()) return fail(gpu.status());
    std::printf("config %s: loaded to the GPU in %.2f s\n", argv[1], now_s() - t_load);
    const int vocab = static_cast<int>((*gpu)->config().vocab_size);

    if (compare) {  // CPU vs CUDA on one sequence: prefill, then 8 greedy decode steps
        auto cpu = load_model(argv[1], lo);
        if (!cpu.ok()) return fail(cpu.status());
        Run rc, rg;
        rc.prompt_len = rg.prompt_len = std::min(prompt_len, 64);
        setup(rc, 8, vocab);
        setup(rg, 8, vocab);
        KvCacheShape shape = (*cpu)->kv_shape(static_cast<int>(rc.tables[0].size()), rc.block_size);
        auto ckv = KvCache::create(shape);
        shape.device = Device::kCuda;
        auto gkv = KvCache::create(shape);
        if (!ckv.ok()) return fail(ckv.status());
        if (!gkv.ok()) return fail(gkv.status());
        float worst = 0.0f, scale = 0.0f;
        for (int step = 0; step < 9; ++step) {
            Tensor cl, gl;
            const ForwardBatch bc = step_batch(rc), bg = step_batch(rg);
            if (Status st = (*cpu)->forward(bc, *ckv, cl); !st.is_ok()) return fail(st);
            if (Status st = (*gpu)->forward(bg, *gkv, gl); !st.is_ok()) return fail(st);
            for (int64_t i = 0; i < cl.numel(); ++i) {
                worst = std::max(worst, std::fabs(cl.data<float>()[i] - gl.data<float>()[i]));
                scale = std::max(scale, std::fabs(cl.data<float>()[i]));
            }
            append_argmax(rc, cl);
            rg.tokens[0].push_back(rc.tokens[0].back());  // both follow the CPU's tokens
        }
        std::printf("compare: prompt %d + 8 decode steps: max |logit diff| CPU vs CUDA %.3g (max |logit| %.3g)\n",
                    rc.prompt_len, worst, scale);
    }

    for (int B : batches) {
        Run r;
        r.batch = B;
        r.prompt_len = prompt_len;
        setup(r, decode, vocab);
        auto kv = [&] {
            KvCacheShape shape = (*gpu)->kv_shape(B * static_cast<int>(r.tables[0].size()), r.block_size);
            shape.device = Device::kCuda;
            return KvCache::create(shape);
        }();
        if (!kv.ok()) return fail(kv.status());
        Tensor logits;
        // Warm-up (cuBLAS handle, allocator cache) on a throwaway copy of the run.
        {
            Run w = r;
            for (int i = 0; i < 3; ++i) {
                if (Status st = (*gpu)->forward(step_batch(w), *kv, logits); !st.is_ok()) return fail(st);
                append_argmax(w, logits);
            }
        }
        double t0 = now_s();
        if (Status st = (*gpu)->forward(step_batch(r), *kv, logits); !st.is_ok()) return fail(st);
        const double prefill_s = now_s() - t0;
        append_argmax(r, logits);
        t0 = now_s();
        for (int i = 0; i < decode; ++i) {
            if (Status st = (*gpu)->forward(step_batch(r), *kv, logits); !st.is_ok()) return fail(st);
            append_argmax(r, logits);
        }
        const double decode_s = now_s() - t0;
        std::printf("batch %d: prefill %d tokens x %d in %.2f ms (%.0f tok/s); decode %d steps: %.3f ms/step, %.1f tok/s\n",
                    B, prompt_len, B, prefill_s * 1e3, B * prompt_len / prefill_s, decode, decode_s * 1e3 / decode,
                    B * decode / decode_s);
    }
    return 0;
}
