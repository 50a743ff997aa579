// `kite generate`: one prompt (text, chat or ids) through the engine, streamed to stdout or
// printed as one JSON line. `--requests FILE.jsonl` switches to the offline batch mode.
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>

#include <nlohmann/json.hpp>

#include "model/lora.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/engine_flags.h"
#include "engine/engine.h"
#include "engine/model_session.h"
#include "engine/request_fields.h"
#include "io/mapped_file.h"
#include "template/chat_template.h"

namespace kite::cli {

namespace {

const char* kUsage =
    "--model PATH (--prompt TEXT | --prompt-ids 1,2,3) [--chat] [--max-new-tokens N] [--temperature T] ...\n"
    "       kite generate --model PATH --requests FILE.jsonl [batch flags]  (see --requests)";

void declare(Flags& f) {
    f.add("model", "PATH", "model folder (config.json + safetensors) or .gguf file", "CHECKPOINT_PATH");
    f.add("tokenizer", "PATH", "tokenizer folder / tokenizer.json / .gguf (default: beside the model)", "TOKENIZER_PATH");
    f.add("prompt", "TEXT", "prompt text, tokenized as Hugging Face does (special tokens added)");
    f.add("prompt-ids", "IDS", "prompt as comma-separated token ids, used as given (no BOS added)");
    f.add_switch("chat", "render the prompt as a user message with the model's chat template");
    f.add("system", "TEXT", "with --chat: a system message before the user's");
    f.add("chat-template", "FILE", "with --chat: use this Jinja template instead of the model's");
    f.add("max-new-tokens", "N", "tokens to generate at most (default: generation_config or 256)");
    f.add("min-new-tokens", "N", "EOS and stop strings are ignored before this many tokens (default 0)");
    f.add("temperature", "T", "0 = greedy (default: generation_config, else 1.0; greedy when it says do_sample=false)");
    f.add("top-k", "K", "keep the K most likely tokens (0 = off)");
    f.add("top-p", "P", "nucleus sampling: smallest set with probability >= P (1 = off)");
    f.add("min-p", "P", "keep tokens with probability >= P * max probability (0 = off)");
    f.add("repetition-penalty", "R", "Hugging Face repetition penalty over prompt + output (1 = off)");
    f.add("presence-penalty", "R", "OpenAI presence penalty over output tokens (0 = off)");
    f.add("frequency-penalty", "R", "OpenAI frequency penalty over output tokens (0 = off)");
    f.add("seed", "S", "random seed: the same seed gives the same output");
    f.add("lora", "PATH", "a PEFT LoRA adapter folder applied on top of the model");
    f.add("stop", "STR", "stop string (output ends before it)", "", /*repeated=*/true);
    f.add_switch("ignore-eos", "keep generating past EOS");
    f.add_switch("keep-special-tokens", "keep special tokens (e.g. <s>) in the text");
    f.add_switch("json", "print one JSON line {output_ids, text, finish_reason} instead of streaming text");
    f.add("requests", "FILE", "batch mode: JSON lines of requests (see kite generate --requests x --help)");
    declare_engine_flags(f);  // last: its --help section runs to the end
}

Result<std::vector<int32_t>> parse_ids(const std::string& s) {
    std::vector<int32_t> ids;
    size_t i = 0;
    while (i < s.size()) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        const std::string part = s.substr(i, j - i);
        char* end = nullptr;
        const long v = std::strtol(part.c_str(), &end, 10);
        if (part.empty() || *end != '\0' || v < 0 || v > INT32_MAX)
            return invalid_argument("--prompt-ids: '" + part + "' is not a token id (expected comma-separated non-negative integers)");
        ids.push_back(static_cast<int32_t>(v));
        i = j + 1;
    }
    if (ids.empty()) return invalid_argument("--prompt-ids: no ids given");
    return ids;
}

// Prompt ids from --prompt-ids, --prompt, or --prompt with --chat.
Result<std::vector<int32_t>> prompt_ids(const Flags& f, const ModelSession& s) {
    if (auto ids = f.get("prompt-ids")) return parse_ids(*ids);
    const std::string text = *f.get("prompt");
    if (!s.tokenizer) return failed_precondition("--prompt needs a tokenizer, and none loaded: " + s.tokenizer_error);
    if (!f.get_switch("chat")) return s.tokenizer->encode(text, /*add_special_tokens=*/true);
    std::string tmpl = s.tokenizer->chat_template();
    if (auto file = f.get("chat-template")) {
        KITE_ASSIGN_OR_RETURN(tmpl, read_text_file(*file));
    }
    if (tmpl.empty()) return failed_precondition("--chat: the model has no chat template (pass --chat-template FILE)");
    nlohmann::json messages = nlohmann::json::array();
    if (auto sys = f.get("system")) messages.push_back({{"role", "system"}, {"content", *sys}});
    messages.push_back({{"role", "user"}, {"content", text}});
    nlohmann::json vars = {{"bos_token", s.tokenizer->bos_token()}, {"eos_token", s.tokenizer->eos_token()}};
    KITE_ASSIGN_OR_RETURN(std::string rendered, render_chat_template(tmpl, messages, true, vars));
    // The template already holds the special tokens it wants (transformers' apply_chat_template).
    return s.tokenizer->encode(rendered, /*add_special_tokens=*/false);
}

Result<GenerationRequest> build_request(const Flags& f, const ModelSession& s, std::vector<int32_t> ids) {
    GenerationRequest r;
    r.id = "generate-0";
    r.prompt_ids = std::move(ids);
    // generation_config.json first (as every front end does), then the flags given.
    apply_generation_defaults(s.defaults, r);
    SamplingParams& sp = r.sampling;
    KITE_ASSIGN_OR_RETURN(double temp, f.get_double("temperature", sp.temperature, 0, 100));
    sp.temperature = static_cast<float>(temp);
    KITE_ASSIGN_OR_RETURN(int64_t top_k, f.get_int("top-k", sp.top_k, -1, INT32_MAX));
    sp.top_k = static_cast<int>(top_k);
    KITE_ASSIGN_OR_RETURN(double top_p, f.get_double("top-p", sp.top_p, 0, 1));
    sp.top_p = static_cast<float>(top_p);
    KITE_ASSIGN_OR_RETURN(double min_p, f.get_double("min-p", sp.min_p, 0, 1));
    sp.min_p = static_cast<float>(min_p);
    KITE_ASSIGN_OR_RETURN(double rep, f.get_double("repetition-penalty", sp.repetition_penalty, 0, 100));
    sp.repetition_penalty = static_cast<float>(rep);
    KITE_ASSIGN_OR_RETURN(double pres, f.get_double("presence-penalty", 0, -2, 2));
    sp.presence_penalty = static_cast<float>(pres);
    KITE_ASSIGN_OR_RETURN(double freq, f.get_double("frequency-penalty", 0, -2, 2));
    sp.frequency_penalty = static_cast<float>(freq);
    if (f.has("seed")) {
        KITE_ASSIGN_OR_RETURN(int64_t seed, f.get_int("seed", 0, INT64_MIN, INT64_MAX));
        r.sampling.seed = static_cast<uint64_t>(seed);
    }
    KITE_ASSIGN_OR_RETURN(int64_t max_new, f.get_int("max-new-tokens", s.defaults.max_new_tokens > 0 ? r.max_new_tokens : 256, 0, 1 << 30));
    r.max_new_tokens = static_cast<int>(max_new);
    KITE_ASSIGN_OR_RETURN(int64_t min_new, f.get_int("min-new-tokens", 0, 0, 1 << 30));
    r.min_new_tokens = static_cast<int>(min_new);
    r.ignore_eos = f.get_switch("ignore-eos");
    r.stop = f.get_all("stop");
    r.skip_special_tokens = !f.get_switch("keep-special-tokens");
    r.stream_text = s.tokenizer != nullptr;
    if (f.has("lora")) {
        KITE_ASSIGN_OR_RETURN(r.lora, LoraAdapter::load(f.get_or("lora", ""), "lora"));
    }
    if (!s.tokenizer && !r.stop.empty()) return failed_precondition("--stop needs a tokenizer, and none loaded: " + s.tokenizer_error);
    KITE_RETURN_IF_ERROR(r.sampling.validate(s.model->config().vocab_size));
    return r;
}

// Outputs arrive on the engine thread; the main thread prints them.
struct OutputQueue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<RequestOutput> items;
    void push(const RequestOutput& o) {
        {
            std::lock_guard<std::mutex> lock(mu);
            items.push_back(o);
        }
        cv.notify_one();
    }
    RequestOutput pop() {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !items.empty(); });
        RequestOutput o = std::move(items.front());
        items.pop_front();
        return o;
    }
};

}  // namespace

int cmd_generate(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--requests") == 0 || std::strncmp(argv[i], "--requests=", 11) == 0)
            return run_generate_requests(argc, argv);
    }
    Flags f("generate", kUsage);
    declare(f);
    auto parsed = f.parse(argc, argv);
    if (!parsed.ok()) return fail("generate", parsed.status());
    if (!*parsed) return 0;
    if (!f.has("model")) return fail("generate", invalid_argument("--model PATH is required"));
    if (f.has("prompt") == f.has("prompt-ids"))
        return fail("generate", invalid_argument("give exactly one of --prompt TEXT or --prompt-ids 1,2,3"));
    if (f.get_switch("chat") && !f.has("prompt")) return fail("generate", invalid_argument("--chat needs --prompt TEXT"));
    auto config = engine_config_from_flags(f);
    if (!config.ok()) return fail("generate", config.status());
    auto lo = load_options_from_flags(f);
    if (!lo.ok()) return fail("generate", lo.status());
    auto session = open_model_session(*f.get("model"), f.get_or("tokenizer", ""), *lo);
    if (!session.ok()) return fail("generate", session.status());
    auto ids = prompt_ids(f, *session);
    if (!ids.ok()) return fail("generate", ids.status());
    auto request = build_request(f, *session, std::move(*ids));
    if (!request.ok()) return fail("generate", request.status());

    // One request: unless the engine flags say otherwise, KV blocks for exactly its context and a
    // step as long as its prompt.
    const int64_t total = static_cast<int64_t>(request->prompt_ids.size()) + request->max_new_tokens;
    const int max_len = session->model->config().max_position_embeddings;
    if (config->num_kv_blocks == 0 && config->kv_cache_mem_mb == 0 && config->kv_cache_mem_fraction == 0)
        config->num_kv_blocks = static_cast<int>((std::min<int64_t>(total, max_len) + config->block_size - 1) / config->block_size) + 1;
    if (!f.has("max-num-batched-tokens"))
        config->max_num_batched_tokens = std::max(config->max_num_batched_tokens, static_cast<int>(request->prompt_ids.size()));
    auto engine = Engine::create(session->model, session->tokenizer, *config);
    if (!engine.ok()) return fail("generate", engine.status());

    OutputQueue queue;
    const bool json = f.get_switch("json");
    Status added = (*engine)->add_request(*request, [&queue](const RequestOutput& o) { queue.push(o); });
    if (!added.is_ok()) {
        (*engine)->shutdown(false);
        return fail("generate", added);
    }
    std::vector<int32_t> out_ids;
    std::string text;
    RequestOutput last;
    while (true) {
        RequestOutput o = queue.pop();
        out_ids.insert(out_ids.end(), o.new_token_ids.begin(), o.new_token_ids.end());
        text += o.text_delta;
        if (!json && !o.text_delta.empty()) {
            std::fwrite(o.text_delta.data(), 1, o.text_delta.size(), stdout);
            std::fflush(stdout);
        }
        if (o.finished) {
            last = o;
            break;
        }
    }
    (*engine)->shutdown(false);
    if (last.finish_reason == FinishReason::kError) return fail("generate", last.error);
    if (json) {
        nlohmann::json j = {{"output_ids", out_ids},
                            {"text", text},
                            {"finish_reason", finish_reason_name(last.finish_reason)},
                            {"num_prompt_tokens", last.num_prompt_tokens}};
        const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        std::printf("%s\n", line.c_str());
    } else {
        std::printf("\n");
    }
    return 0;
}

}  // namespace kite::cli
