// CPU forward-pass micro-benchmark: prefill and decode tokens/s of one sequence, for a model folder
// or for random weights of a given config.json (--dummy). Run on purpose (bench/run_cpu_bench.sh).
//   bench_forward MODEL_DIR_OR_CONFIG [--dummy] [--dequantize-at-load] [--cpu-int8-activations] [--prompt-len N] [--decode N] [--threads N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/parallel.h"
#include "model/model.h"
#include "ops/quant.h"

using namespace kite;

namespace {
double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_forward MODEL [--dummy] [--dequantize-at-load] [--cpu-int8-activations] [--prompt-len N] [--decode N] [--threads N]\n");
        return 2;
    }
    LoadOptions lo;
    int prompt_len = 128, decode = 64;
    for (int i = 2; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--dummy")) lo.dummy_weights = true;
        else if (!std::strcmp(argv[i], "--dequantize-at-load")) lo.dequantize_at_load = true;
        else if (!std::strcmp(argv[i], "--cpu-int8-activations")) ops::set_int8_activations(true);
        else if (!std::strcmp(argv[i], "--prompt-len") && i + 1 < argc) prompt_len = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--decode") && i + 1 < argc) decode = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) set_num_threads(std::atoi(argv[++i]));
    }
    auto model = load_model(argv[1], lo);
    if (!model.ok()) {
        std::fprintf(stderr, "bench_forward: %s\n", model.status().message().c_str());
        return 1;
    }
    const ModelConfig& c = (*model)->config();
    const int block = 16;
    const int blocks = (prompt_len + decode) / block + 2;
    auto kv = KvCache::create((*model)->kv_shape(blocks, block));
    ForwardBatch b;
    std::vector<int32_t> table;
    for (int i = 0; i < blocks; ++i) table.push_back(i);
    auto fill = [&](int start, int n) {
        b = ForwardBatch{};
        for (int t = 0; t < n; ++t) {
            b.token_ids.push_back((start + t) * 7 % static_cast<int>(c.vocab_size));
            b.positions.push_back(start + t);
            b.slot_mapping.push_back(start + t);
        }
        b.query_start = {0, n};
        b.context_lens = {start + n};
        b.block_tables = {table};
        b.logits_indices = {n - 1};
    };
    Tensor logits;
    fill(0, prompt_len);
    double t0 = now_s();
    Status st = (*model)->forward(b, *kv, logits);
    const double prefill_s = now_s() - t0;
    if (!st.is_ok()) {
        std::fprintf(stderr, "bench_forward: %s\n", st.message().c_str());
        return 1;
    }
    t0 = now_s();
    for (int i = 0; i < decode; ++i) {
        fill(prompt_len + i, 1);
        st = (*model)->forward(b, *kv, logits);
    }
    const double decode_s = now_s() - t0;
    std::printf("{\"model\": \"%s\", \"threads\": %d, \"prompt_len\": %d, \"prefill_tok_s\": %.1f, \"decode_tokens\": %d, "
                "\"decode_tok_s\": %.2f}\n",
                argv[1], num_threads(), prompt_len, prompt_len / prefill_s, decode, decode / decode_s);
    return 0;
}
