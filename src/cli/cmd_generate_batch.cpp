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
#include "cli/model_session.h"
#include "core/parallel.h"
#include "engine/engine.h"

namespace kite::cli {
namespace {

using nlohmann::json;

const char* kUsage =
    "--model PATH --requests FILE.jsonl [--max-num-seqs N] [--max-num-batched-tokens N]\n"
    "       [--kv-cache-mem-mb M | --num-kv-blocks B] [--block-size S] [--preemption-mode recompute|swap]\n"
    "       [--policy fcfs|priority|static]\n\n"
    "Each input line: {\"id\", \"prompt\" | \"prompt_ids\", \"max_new_tokens\", \"min_new_tokens\", \"temperature\",\n"
    "\"top_k\", \"top_p\", \"min_p\", \"seed\", \"ignore_eos\", \"stop\", \"stop_token_ids\", \"n\", \"repetition_penalty\",\n"
    "\"presence_penalty\", \"frequency_penalty\", \"num_beams\", \"num_return_sequences\", \"length_penalty\",\n"
    "\"early_stopping\", \"logprobs\", \"priority\"}. Output, one line per request in input order:\n"
    "{\"id\", \"output_ids\", \"text\", \"finish_reason\", \"num_cached_tokens\"} (lists when n or\n"
    "num_return_sequences > 1)";

// Reads `key` of `j` into `out` when present, with a type check.
template <typename T>
Status read_field(const json& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::ok();
    try {
        if constexpr (std::is_same_v<T, bool>) {
            if (!it->is_boolean()) return invalid_argument(std::string("\"") + key + "\" must be true or false");
        } else if constexpr (std::is_integral_v<T>) {
            if (!it->is_number_integer()) return invalid_argument(std::string("\"") + key + "\" must be an integer");
        } else if constexpr (std::is_floating_point_v<T>) {
            if (!it->is_number()) return invalid_argument(std::string("\"") + key + "\" must be a number");
        }
        out = it->get<T>();
    } catch (const std::exception&) {
        return invalid_argument(std::string("\"") + key + "\" has the wrong type");
    }
    return Status::ok();
}

struct Defaults {
    int max_new_tokens = 256;
    float temperature = 1.0f;
};

Result<GenerationRequest> parse_request(const json& j, const ModelSession& s, const Defaults& d, int line) {
    if (!j.is_object()) return invalid_argument("expected a JSON object");
    GenerationRequest r;
    r.id = std::to_string(line);
    if (auto it = j.find("id"); it != j.end()) {
        if (it->is_string()) r.id = it->get<std::string>();
        else if (it->is_number_integer()) r.id = std::to_string(it->get<int64_t>());
        else return invalid_argument("\"id\" must be a string or an integer");
    }
    const bool has_text = j.contains("prompt"), has_ids = j.contains("prompt_ids");
    if (has_text == has_ids) return invalid_argument("give exactly one of \"prompt\" and \"prompt_ids\"");
    if (has_ids) {
        const json& ids = j["prompt_ids"];
        if (!ids.is_array()) return invalid_argument("\"prompt_ids\" must be an array of token ids");
        for (const json& t : ids) {
            if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
                return invalid_argument("\"prompt_ids\" must hold non-negative integers");
            r.prompt_ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
        }
    } else {
        if (!j["prompt"].is_string()) return invalid_argument("\"prompt\" must be a string");
        if (!s.tokenizer) return failed_precondition("\"prompt\" needs a tokenizer, and none loaded: " + s.tokenizer_error);
        KITE_ASSIGN_OR_RETURN(r.prompt_ids, s.tokenizer->encode(j["prompt"].get<std::string>(), true));
    }
    r.max_new_tokens = d.max_new_tokens;
    KITE_RETURN_IF_ERROR(read_field(j, "max_tokens", r.max_new_tokens));  // OpenAI's name
    KITE_RETURN_IF_ERROR(read_field(j, "max_new_tokens", r.max_new_tokens));
    KITE_RETURN_IF_ERROR(read_field(j, "min_new_tokens", r.min_new_tokens));
    SamplingParams& sp = r.sampling;
    sp.temperature = d.temperature;
    KITE_RETURN_IF_ERROR(read_field(j, "temperature", sp.temperature));
    KITE_RETURN_IF_ERROR(read_field(j, "top_k", sp.top_k));
    KITE_RETURN_IF_ERROR(read_field(j, "top_p", sp.top_p));
    KITE_RETURN_IF_ERROR(read_field(j, "min_p", sp.min_p));
    KITE_RETURN_IF_ERROR(read_field(j, "repetition_penalty", sp.repetition_penalty));
    KITE_RETURN_IF_ERROR(read_field(j, "presence_penalty", sp.presence_penalty));
    KITE_RETURN_IF_ERROR(read_field(j, "frequency_penalty", sp.frequency_penalty));
    KITE_RETURN_IF_ERROR(read_field(j, "logprobs", sp.logprobs));
    if (j.contains("seed") && !j["seed"].is_null()) {
        int64_t seed = 0;
        KITE_RETURN_IF_ERROR(read_field(j, "seed", seed));
        sp.seed = static_cast<uint64_t>(seed);
    }
    KITE_RETURN_IF_ERROR(read_field(j, "ignore_eos", r.ignore_eos));
    KITE_RETURN_IF_ERROR(read_field(j, "n", r.n));
    KITE_RETURN_IF_ERROR(read_field(j, "num_beams", r.num_beams));
    KITE_RETURN_IF_ERROR(read_field(j, "num_return_sequences", r.num_return_sequences));
    KITE_RETURN_IF_ERROR(read_field(j, "length_penalty", r.length_penalty));
    KITE_RETURN_IF_ERROR(read_field(j, "early_stopping", r.early_stopping));
    KITE_RETURN_IF_ERROR(read_field(j, "priority", r.priority));
    KITE_RETURN_IF_ERROR(read_field(j, "include_stop_str_in_output", r.include_stop_str_in_output));
    KITE_RETURN_IF_ERROR(read_field(j, "skip_special_tokens", r.skip_special_tokens));
    if (auto it = j.find("stop"); it != j.end() && !it->is_null()) {
        if (it->is_string()) {
            r.stop.push_back(it->get<std::string>());
        } else if (it->is_array()) {
            for (const json& x : *it) {
                if (!x.is_string()) return invalid_argument("\"stop\" must be a string or an array of strings");
                r.stop.push_back(x.get<std::string>());
            }
        } else {
            return invalid_argument("\"stop\" must be a string or an array of strings");
        }
    }
    if (auto it = j.find("stop_token_ids"); it != j.end() && !it->is_null()) {
        if (!it->is_array()) return invalid_argument("\"stop_token_ids\" must be an array of token ids");
        for (const json& x : *it) {
            if (!x.is_number_integer()) return invalid_argument("\"stop_token_ids\" must hold integers");
            r.stop_token_ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
        }
    }
    if (r.num_beams <= 1 && r.num_return_sequences > 1 && r.n == 1) r.n = r.num_return_sequences;
    r.stream_text = s.tokenizer != nullptr;
    return r;
}

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
    declare_engine_flags(f);
    f.add("threads", "N", "CPU threads (default: all cores)", "KITE_NUM_THREADS");
    declare_load_flags(f);
    auto parsed = f.parse(argc, argv);
    if (!parsed.ok()) return fail("generate", parsed.status());
    if (!*parsed) return 0;
    if (!f.has("model")) return fail("generate", invalid_argument("--model PATH is required"));
    auto config = engine_config_from_flags(f);
    if (!config.ok()) return fail("generate", config.status());
    if (auto threads = f.get_int("threads", 0, 0, 4096); !threads.ok()) {
        return fail("generate", threads.status());
    } else if (*threads > 0) {
        set_num_threads(static_cast<int>(*threads));
    }
    const std::string path = *f.get("requests");
    std::ifstream in(path);
    if (!in) return fail("generate", not_found("--requests: cannot open " + path));

    auto lo = load_options_from_flags(f);
    if (!lo.ok()) return fail("generate", lo.status());
    auto session = open_model_session(*f.get("model"), f.get_or("tokenizer", ""), *lo);
    if (!session.ok()) return fail("generate", session.status());
    Defaults d;
    if (session->defaults.max_new_tokens > 0) d.max_new_tokens = session->defaults.max_new_tokens;
    d.temperature = !session->defaults.do_sample ? 0.0f
                    : session->defaults.temperature >= 0 ? session->defaults.temperature : 1.0f;

    std::vector<Pending> pending;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception& e) {
            return fail("generate", invalid_argument(path + ":" + std::to_string(n) + ": not valid JSON (" + e.what() + ")"));
        }
        auto r = parse_request(j, *session, d, n);
        if (!r.ok()) return fail("generate", invalid_argument(path + ":" + std::to_string(n) + ": " + r.status().message()));
        pending.push_back({std::move(*r), {}, 0, n});
    }
    if (pending.empty()) return fail("generate", invalid_argument(path + ": no requests"));

    auto engine = Engine::create(session->model, session->tokenizer, *config);
    if (!engine.ok()) return fail("generate", engine.status());
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
