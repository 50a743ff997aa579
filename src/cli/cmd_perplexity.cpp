// `kite perplexity --model PATH --file TEXT [--ctx N]`: perplexity the way llama.cpp's `perplexity`
// tool measures it, so numbers compare across engines. The text is tokenized once (BOS added when
// the tokenizer adds one) and cut into chunks of --ctx tokens; each chunk is evaluated from scratch
// with its first token replaced by BOS (when the tokenizer uses one), and only its second half is
// scored, so every scored token sees at least ctx/2 tokens of context. PPL = exp(mean NLL).
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/engine_flags.h"
#include "engine/model_session.h"
#include "io/mapped_file.h"

namespace kite::cli {

namespace {

void declare(Flags& f) {
    f.add("model", "PATH", "model folder (config.json + safetensors) or .gguf file", "CHECKPOINT_PATH");
    f.add("tokenizer", "PATH", "tokenizer folder / tokenizer.json / .gguf (default: beside the model)", "TOKENIZER_PATH");
    f.add("file", "TEXT", "UTF-8 text file to score");
    f.add("ctx", "N", "tokens per chunk (default 512); the text needs at least 2 * N tokens");
    f.add("chunks", "N", "score at most N chunks (default: all)");
    f.add_switch("json", "print one JSON line {ppl, ppl_stderr, nll, tokens_scored, chunks, ctx} instead of text");
    declare_load_flags(f);
}

struct Score {
    double nll = 0, nll2 = 0;  // sums over scored tokens of -log p and its square
    int64_t count = 0;
};

// Evaluates tokens[start, start + ctx) as one fresh sequence; adds the NLL of tokens first+1 .. ctx-1.
Status score_chunk(Model& model, const std::vector<int32_t>& chunk, int first, Score& s) {
    const int ctx = static_cast<int>(chunk.size()), block = 16;
    KITE_ASSIGN_OR_RETURN(KvCache kv, KvCache::create(model.kv_shape((ctx + block - 1) / block, block)));
    ForwardBatch b;
    b.token_ids = chunk;
    b.query_start = {0, ctx};
    b.context_lens = {ctx};
    b.block_tables.emplace_back();
    for (int i = 0; i < (ctx + block - 1) / block; ++i) b.block_tables[0].push_back(i);
    for (int i = 0; i < ctx; ++i) {
        b.positions.push_back(i);
        b.slot_mapping.push_back(i);
    }
    for (int i = first; i < ctx - 1; ++i) b.logits_indices.push_back(i);
    Tensor logits;
    KITE_RETURN_IF_ERROR(model.forward(b, kv, logits));
    const int64_t V = logits.dim(1);
    for (int r = 0; r < ctx - 1 - first; ++r) {
        const float* row = logits.data<float>() + r * V;
        double mx = row[0];
        for (int64_t v = 1; v < V; ++v) mx = std::max<double>(mx, row[v]);
        double sum = 0;
        for (int64_t v = 0; v < V; ++v) sum += std::exp(double(row[v]) - mx);
        const int32_t target = chunk[first + r + 1];
        if (target < 0 || target >= V) return invalid_argument("token id " + std::to_string(target) + " is outside the model's vocabulary");
        const double nll = std::log(sum) + mx - row[target];
        s.nll += nll;
        s.nll2 += nll * nll;
        ++s.count;
    }
    return Status::ok();
}

int run(const Flags& f) {
    if (!f.has("model")) return fail("perplexity", invalid_argument("--model is required"));
    if (!f.has("file")) return fail("perplexity", invalid_argument("--file is required (a UTF-8 text file to score)"));
    auto ctx = f.get_int("ctx", 512, 4, 1 << 20);
    if (!ctx.ok()) return fail("perplexity", ctx.status());
    auto max_chunks = f.get_int("chunks", -1, 1, 1 << 30);
    if (!max_chunks.ok()) return fail("perplexity", max_chunks.status());
    auto text = read_text_file(*f.get("file"));
    if (!text.ok()) return fail("perplexity", text.status());
    auto lo = load_options_from_flags(f);
    if (!lo.ok()) return fail("perplexity", lo.status());
    auto session = open_model_session(*f.get("model"), f.get_or("tokenizer", ""), *lo);
    if (!session.ok()) return fail("perplexity", session.status());
    if (!session->tokenizer)
        return fail("perplexity", failed_precondition("perplexity needs a tokenizer, and none loaded: " + session->tokenizer_error));
    const Tokenizer& tok = *session->tokenizer;
    Model& model = *session->model;
    const int max_pos = model.config().max_position_embeddings;
    if (max_pos > 0 && *ctx > max_pos)
        return fail("perplexity", invalid_argument("--ctx " + std::to_string(*ctx) + " exceeds the model's context length " +
                                                   std::to_string(max_pos)));
    auto tokens = tok.encode(*text, /*add_special_tokens=*/true);
    if (!tokens.ok()) return fail("perplexity", tokens.status());
    // llama.cpp puts BOS at the start of every chunk when the vocabulary adds one to a text.
    auto empty = tok.encode("", true);
    const bool add_bos = empty.ok() && !empty->empty() && (*empty)[0] == tok.bos_token_id() && tok.bos_token_id() >= 0;
    const int n_ctx = static_cast<int>(*ctx);
    int64_t n_chunks = static_cast<int64_t>(tokens->size()) / n_ctx;
    if (n_chunks < 2 && *max_chunks < 0)
        return fail("perplexity", invalid_argument(*f.get("file") + ": " + std::to_string(tokens->size()) + " tokens; --ctx " +
                                                   std::to_string(n_ctx) + " needs at least " + std::to_string(2 * n_ctx)));
    if (n_chunks < 1)
        return fail("perplexity", invalid_argument(*f.get("file") + ": " + std::to_string(tokens->size()) +
                                                   " tokens, fewer than one chunk of --ctx " + std::to_string(n_ctx)));
    if (*max_chunks > 0) n_chunks = std::min(n_chunks, *max_chunks);
    const int first = n_ctx / 2;
    const bool json = f.get_switch("json");
    if (!json) std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %d, scoring the second half of each\n",
                            tokens->size(), static_cast<long long>(n_chunks), n_ctx);
    Score s;
    for (int64_t c = 0; c < n_chunks; ++c) {
        std::vector<int32_t> chunk(tokens->begin() + c * n_ctx, tokens->begin() + (c + 1) * n_ctx);
        if (add_bos) chunk[0] = tok.bos_token_id();
        if (Status st = score_chunk(model, chunk, first, s); !st.is_ok()) return fail("perplexity", st);
        if (!json) {
            std::printf("[%lld]%.4f,", static_cast<long long>(c + 1), std::exp(s.nll / s.count));
            std::fflush(stdout);
        }
    }
    const double mean = s.nll / s.count, ppl = std::exp(mean);
    const double var = s.nll2 / s.count - mean * mean;
    const double err = s.count > 1 && var > 0 ? std::sqrt(var / (s.count - 1)) * ppl : 0.0;
    if (json) {
        nlohmann::json out = {{"ppl", ppl}, {"ppl_stderr", err}, {"nll", mean}, {"tokens_scored", s.count},
                              {"chunks", n_chunks}, {"ctx", n_ctx}};
        std::printf("%s\n", out.dump().c_str());
    } else {
        std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, err);
    }
    return 0;
}

}  // namespace

int cmd_perplexity(int argc, char** argv) {
    Flags f("perplexity", "--model PATH --file TEXT [--ctx N] [--chunks N] [--json]");
    declare(f);
    auto parsed = f.parse(argc, argv);
    if (!parsed.ok()) return fail("perplexity", parsed.status());
    if (!*parsed) return 0;
    return run(f);
}

}  // namespace kite::cli
