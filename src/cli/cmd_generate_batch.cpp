// `kite generate --requests FILE.jsonl`: the offline batch mode. Every line is a request; all are
// checked first (a bad line stops everything with one line naming it), then submitted at once to
// one engine, which batches them; one JSON line per request is printed, in input order.
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/flags.h"
#include "engine/engine.h"
#include "engine/model_session.h"
#include "engine/batch_request.h"

namespace kite::cli {
namespace {

using nlohmann::json;

const char* kUsage =
    "--model PATH --requests FILE.jsonl [--max-num-seqs N] [--max-num-batched-tokens N]\n"
    "       [--kv-cache-mem-mb M | --num-kv-blocks B] [--block-size S] [--preemption-mode recompute|swap]\n"
    "       [--policy fcfs|priority|static]\n\n"
    "Each input line: {\"id\", \"prompt\" | \"prompt_ids\" and the fields of docs/requests.md: \"max_new_tokens\", \"min_new_tokens\", \"temperature\",\n"
    "\"top_k\", \"top_p\", \"min_p\", \"seed\", \"ignore_eos\", \"stop\", \"stop_token_ids\", \"n\", \"repetition_penalty\",\n"
    "\"presence_penalty\", \"frequency_penalty\", \"num_beams\", \"num_return_sequences\", \"length_penalty\",\n"
    "\"early_stopping\", \"logprobs\", \"priority\"}. Output, one line per request in input order:\n"
    "{\"id\", \"output_ids\", \"text\", \"finish_reason\", \"num_cached_tokens\"} (lists when n or\n"
    "num_return_sequences > 1)";

struct SeqOut {
    std::vector<int32_t> ids;
    std::string text;
    std::vector<TokenLogprob> logprobs;
    FinishReason reason = FinishReason::kNone;
    double score = 0;
    bool finished = false;
    Status error;
};

struct Pending {
    GenerationRequest request;
    std::vector<SeqOut> seqs;
    int num_cached_tokens = 0;
    int line = 0;  // in the input file, for messages
};

json logprobs_json(const std::vector<TokenLogprob>& lps) {
    json a = json::array();
    for (const TokenLogprob& t : lps) {
        json top = json::array();
        for (const auto& [id, lp] : t.top) top.push_back({id, lp});
        a.push_back({{"token", t.token}, {"logprob", t.logprob}, {"top", top}});
    }
    return a;
}

json result_json(const Pending& p) {
    const bool many = p.seqs.size() > 1;
    json out = {{"id", p.request.id}};
    json ids = json::array(), text = json::array(), reasons = json::array(), lps = json::array(), scores = json::array();
    for (const SeqOut& s : p.seqs) {
        ids.push_back(s.ids);
        text.push_back(s.text);
        reasons.push_back(finish_reason_name(s.reason));
        lps.push_back(logprobs_json(s.logprobs));
        scores.push_back(s.score);
        if (s.reason == FinishReason::kError) out["error"] = s.error.message();
    }
    out["output_ids"] = many ? ids : ids[0];
    out["text"] = many ? text : text[0];
    out["finish_reason"] = many ? reasons : reasons[0];
    out["num_cached_tokens"] = p.num_cached_tokens;
    if (p.request.sampling.logprobs >= 0) out["logprobs"] = many ? lps : lps[0];
    if (p.request.num_beams > 1) out["scores"] = scores;
    return out;
}

}  // namespace

int run_generate_requests(int argc, char** argv) {
    Flags f("generate", kUsage);
    f.add("model", "PATH", "model folder (config.json + safetensors) or .gguf file", "CHECKPOINT_PATH");
    f.add("tokenizer", "PATH", "tokenizer folder / tokenizer.json / .gguf (default: beside the model)", "TOKENIZER_PATH");
    f.add("requests", "FILE", "JSON lines, one request each (see above)");
    declare_engine_flags(f);  // last: its --help section runs to the end
    auto parsed = f.parse(argc, argv);
    if (!parsed.ok()) return fail("generate", parsed.status());
    if (!*parsed) return 0;
    if (!f.has("model")) return fail("generate", invalid_argument("--model PATH is required"));
    auto config = engine_config_from_flags(f);
    if (!config.ok()) return fail("generate", config.status());
    const std::string path = *f.get("requests");
    std::ifstream in(path);
    if (!in) return fail("generate", not_found("--requests: cannot open " + path));

    auto lo = load_options_from_flags(f);
    if (!lo.ok()) return fail("generate", lo.status());
    auto session = open_model_session(*f.get("model"), f.get_or("tokenizer", ""), *lo);
    if (!session.ok()) return fail("generate", session.status());
    // The engine first: requests are checked against its context length.
    auto engine = Engine::create(session->model, session->tokenizer, *config);
    if (!engine.ok()) return fail("generate", engine.status());
    const ModelLimits limits = session->limits((*engine)->max_model_len());

    std::vector<Pending> pending;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception& e) {
            (*engine)->shutdown(false);
            return fail("generate", invalid_argument(path + ":" + std::to_string(n) + ": not valid JSON (" + e.what() + ")"));
        }
        auto r = request_from_json_line(j, session->tokenizer.get(), session->tokenizer_error, limits, std::to_string(n));
        if (!r.ok()) return (*engine)->shutdown(false), fail("generate", invalid_argument(path + ":" + std::to_string(n) + ": " + r.status().message()));
        pending.push_back({std::move(*r), {}, 0, n});
    }
    if (pending.empty()) return (*engine)->shutdown(false), fail("generate", invalid_argument(path + ": no requests"));
    std::mutex mu;
    std::condition_variable cv;
    int num_done = 0, num_expected = 0;
    for (size_t i = 0; i < pending.size(); ++i) {
        Pending& p = pending[i];
        const GenerationRequest& r = p.request;
        const int width = r.num_beams > 1 ? r.num_return_sequences : r.n;
        p.seqs.resize(size_t(width));
        num_expected += width;
        Status added = (*engine)->add_request(r, [&, i](const RequestOutput& o) {
            std::lock_guard<std::mutex> lock(mu);
            Pending& q = pending[i];
            if (o.index < 0 || size_t(o.index) >= q.seqs.size()) return;
            SeqOut& s = q.seqs[size_t(o.index)];
            s.ids.insert(s.ids.end(), o.new_token_ids.begin(), o.new_token_ids.end());
            s.logprobs.insert(s.logprobs.end(), o.new_logprobs.begin(), o.new_logprobs.end());
            s.text += o.text_delta;
            q.num_cached_tokens = o.num_cached_tokens;
            if (o.finished && !s.finished) {
                s.finished = true;
                s.reason = o.finish_reason;
                s.score = o.score;
                s.error = o.error;
                ++num_done;
                cv.notify_all();
            }
        });
        if (!added.is_ok()) {
            (*engine)->shutdown(false);
            return fail("generate", invalid_argument(path + ":" + std::to_string(p.line) + ": " + added.message()));
        }
    }
    {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return num_done >= num_expected; });
    }
    (*engine)->shutdown(false);
    bool any_error = false;
    for (const Pending& p : pending) {
        const json j = result_json(p);
        any_error = any_error || j.contains("error");
        std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    }
    std::fflush(stdout);
    return any_error ? 1 : 0;
}

}  // namespace kite::cli
