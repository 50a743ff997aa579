// The one place where request JSON becomes a GenerationRequest. OpenAI names (max_tokens, seed,
// stop, ...) and rtp-llm names (max_new_tokens, random_seed, stop_words_str, ...) map onto the same
// engine fields; ranges follow OpenAI's documentation where it gives one.
#include "server/request_builder.h"

#include <climits>

#include "server/json_fields.h"

namespace kite::server {

namespace {

constexpr int64_t kMaxTokensCap = 1 << 30;
constexpr size_t kMaxStops = 16;
constexpr size_t kMaxStopTokenIds = 1024;

Status parse_logit_bias(const json& body, int64_t vocab, SamplingParams& sp) {
    auto it = body.find("logit_bias");
    if (it == body.end() || it->is_null()) return Status::ok();
    if (!it->is_object()) return invalid_argument("logit_bias: expected an object mapping token ids to biases, got " + type_name(*it));
    if (it->size() > 1024) return invalid_argument("logit_bias: at most 1024 entries, got " + std::to_string(it->size()));
    for (const auto& [key, value] : it->items()) {
        char* end = nullptr;
        errno = 0;
        const long long id = std::strtoll(key.c_str(), &end, 10);
        if (key.empty() || *end != '\0' || errno == ERANGE)
            return invalid_argument("logit_bias: key '" + key + "' is not a token id");
        if (id < 0 || id >= vocab)
            return invalid_argument("logit_bias: token id " + key + " is out of the vocabulary [0, " + std::to_string(vocab) + ")");
        if (!value.is_number()) return invalid_argument("logit_bias: bias of token " + key + " must be a number, got " + type_name(value));
        const double b = value.get<double>();
        if (!(b >= -100.0 && b <= 100.0))
            return invalid_argument("logit_bias: bias of token " + key + " must be in [-100, 100]");
        sp.logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
    }
    return Status::ok();
}

void apply_defaults(const GenerationDefaults& d, SamplingParams& sp) {
    if (d.temperature >= 0) sp.temperature = d.temperature;
    if (d.top_k >= 0) sp.top_k = d.top_k;
    if (d.top_p >= 0) sp.top_p = d.top_p;
    if (d.min_p >= 0) sp.min_p = d.min_p;
    if (d.repetition_penalty > 0) sp.repetition_penalty = d.repetition_penalty;
}

// Fields shared by /v1/completions and /v1/chat/completions.
Status parse_openai(const json& b, ApiKind kind, const ModelLimits& lim, ParsedGeneration& out) {
    GenerationRequest& r = out.request;
    SamplingParams& sp = r.sampling;
    KITE_ASSIGN_OR_RETURN(auto model, get_string(b, "model"));
    KITE_ASSIGN_OR_RETURN(auto user, get_string(b, "user"));
    KITE_ASSIGN_OR_RETURN(auto max_tokens, get_int(b, "max_tokens", 1, kMaxTokensCap));
    if (kind == ApiKind::kChat) {
        KITE_ASSIGN_OR_RETURN(auto mct, get_int(b, "max_completion_tokens", 1, kMaxTokensCap));
        if (mct) max_tokens = mct;
    }
    if (max_tokens) {
        r.max_new_tokens = static_cast<int>(*max_tokens);
        out.api.max_tokens_given = true;
    }
    KITE_ASSIGN_OR_RETURN(auto min_tokens, get_int(b, "min_tokens", 0, kMaxTokensCap));
    if (min_tokens) r.min_new_tokens = static_cast<int>(*min_tokens);
    KITE_ASSIGN_OR_RETURN(auto temperature, get_number(b, "temperature", 0.0, 2.0));
    if (temperature) sp.temperature = static_cast<float>(*temperature);
    KITE_ASSIGN_OR_RETURN(auto top_p, get_number(b, "top_p", 0.0, 1.0));
    if (top_p) {
        if (*top_p <= 0.0) return invalid_argument("top_p: must be in (0, 1], got 0");
        sp.top_p = static_cast<float>(*top_p);
    }
    KITE_ASSIGN_OR_RETURN(auto top_k, get_int(b, "top_k", -1, lim.vocab_size));
    if (top_k) sp.top_k = static_cast<int>(*top_k);
    KITE_ASSIGN_OR_RETURN(auto min_p, get_number(b, "min_p", 0.0, 1.0));
    if (min_p) sp.min_p = static_cast<float>(*min_p);
    KITE_ASSIGN_OR_RETURN(auto pp, get_number(b, "presence_penalty", -2.0, 2.0));
    if (pp) sp.presence_penalty = static_cast<float>(*pp);
    KITE_ASSIGN_OR_RETURN(auto fp, get_number(b, "frequency_penalty", -2.0, 2.0));
    if (fp) sp.frequency_penalty = static_cast<float>(*fp);
    KITE_ASSIGN_OR_RETURN(auto rp, get_number(b, "repetition_penalty", 1e-6, 100.0));
    if (rp) sp.repetition_penalty = static_cast<float>(*rp);
    KITE_ASSIGN_OR_RETURN(auto seed, get_int(b, "seed", INT64_MIN, INT64_MAX));
    if (seed) sp.seed = static_cast<uint64_t>(*seed);
    KITE_RETURN_IF_ERROR(parse_logit_bias(b, lim.vocab_size, sp));
    KITE_ASSIGN_OR_RETURN(auto n, get_int(b, "n", 1, 128));
    if (n) r.n = static_cast<int>(*n);
    KITE_ASSIGN_OR_RETURN(auto best_of, get_int(b, "best_of", 1, 128));
    if (best_of && *best_of != r.n) return invalid_argument("best_of: only best_of == n is supported, got best_of " +
                                                            std::to_string(*best_of) + " with n " + std::to_string(r.n));
    KITE_ASSIGN_OR_RETURN(r.stop, get_string_list(b, "stop", kMaxStops));
    KITE_ASSIGN_OR_RETURN(r.stop_token_ids, get_int_list(b, "stop_token_ids", 0, lim.vocab_size - 1, kMaxStopTokenIds));
    KITE_ASSIGN_OR_RETURN(auto ignore_eos, get_bool(b, "ignore_eos"));
    if (ignore_eos) r.ignore_eos = *ignore_eos;
    KITE_ASSIGN_OR_RETURN(auto skip_special, get_bool(b, "skip_special_tokens"));
    if (skip_special) r.skip_special_tokens = *skip_special;
    KITE_ASSIGN_OR_RETURN(auto incl_stop, get_bool(b, "include_stop_str_in_output"));
    if (incl_stop) r.include_stop_str_in_output = *incl_stop;
    KITE_ASSIGN_OR_RETURN(auto stream, get_bool(b, "stream"));
    out.api.stream = stream.value_or(false);
    if (auto it = b.find("stream_options"); it != b.end() && !it->is_null()) {
        if (!it->is_object()) return invalid_argument("stream_options: expected an object, got " + type_name(*it));
        if (!out.api.stream) return invalid_argument("stream_options: only allowed when stream is true");
        KITE_ASSIGN_OR_RETURN(auto usage, get_bool(*it, "include_usage"));
        if (usage) out.api.include_usage = *usage;
    }
    if (kind == ApiKind::kCompletions) {
        KITE_ASSIGN_OR_RETURN(auto echo, get_bool(b, "echo"));
        out.api.echo = echo.value_or(false);
        KITE_ASSIGN_OR_RETURN(auto lp, get_int(b, "logprobs", 0, 20));
        if (lp) out.api.logprobs = static_cast<int>(*lp);
        if (out.api.echo && lp) return invalid_argument("logprobs: not supported together with echo (no prompt logprobs)");
        KITE_ASSIGN_OR_RETURN(auto suffix, get_string(b, "suffix"));
        if (suffix && !suffix->empty()) return invalid_argument("suffix: not supported by this model");
    } else {
        KITE_ASSIGN_OR_RETURN(auto lp, get_bool(b, "logprobs"));
        KITE_ASSIGN_OR_RETURN(auto top, get_int(b, "top_logprobs", 0, 20));
        if (top && !lp.value_or(false)) return invalid_argument("top_logprobs: requires logprobs to be true");
        if (lp.value_or(false)) out.api.logprobs = static_cast<int>(top.value_or(0));
        if (auto it = b.find("response_format"); it != b.end() && !it->is_null()) {
            if (!it->is_object()) return invalid_argument("response_format: expected an object, got " + type_name(*it));
            KITE_ASSIGN_OR_RETURN(auto type, get_string(*it, "type"));
            if (type.value_or("text") != "text")
                return invalid_argument("response_format: type '" + *type + "' is not supported (only 'text')");
        }
        if (auto it = b.find("tools"); it != b.end() && !it->is_null()) {
            if (!it->is_array()) return invalid_argument("tools: expected an array, got " + type_name(*it));
            if (!it->empty()) return invalid_argument("tools: tool calling is not supported");
        }
    }
    sp.logprobs = out.api.logprobs;
    return Status::ok();
}

// rtp-llm's generate_config fields, read from generate_config or else the top level.
Status parse_native(const json& body, const ModelLimits& lim, ParsedGeneration& out) {
    json b = json::object();
    for (const auto& [k, v] : body.items())
        if (k != "generate_config") b[k] = v;
    if (auto it = body.find("generate_config"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return invalid_argument("generate_config: expected an object, got " + type_name(*it));
        for (const auto& [k, v] : it->items()) b[k] = v;
    }
    GenerationRequest& r = out.request;
    SamplingParams& sp = r.sampling;
    KITE_ASSIGN_OR_RETURN(auto max_new, get_int(b, "max_new_tokens", 1, kMaxTokensCap));
    if (max_new) {
        r.max_new_tokens = static_cast<int>(*max_new);
        out.api.max_tokens_given = true;
    }
    KITE_ASSIGN_OR_RETURN(auto min_new, get_int(b, "min_new_tokens", 0, kMaxTokensCap));
    if (min_new) r.min_new_tokens = static_cast<int>(*min_new);
    KITE_ASSIGN_OR_RETURN(auto top_k, get_int(b, "top_k", 0, lim.vocab_size));
    if (top_k) sp.top_k = static_cast<int>(*top_k);
    KITE_ASSIGN_OR_RETURN(auto top_p, get_number(b, "top_p", 0.0, 1.0));
    if (top_p) sp.top_p = *top_p <= 0.0 ? 1.0f : static_cast<float>(*top_p);  // rtp-llm: 0 means off
    KITE_ASSIGN_OR_RETURN(auto temperature, get_number(b, "temperature", 0.0, 100.0));
    if (temperature) sp.temperature = static_cast<float>(*temperature);
    KITE_ASSIGN_OR_RETURN(auto rp, get_number(b, "repetition_penalty", 1e-6, 100.0));
    if (rp) sp.repetition_penalty = static_cast<float>(*rp);
    KITE_ASSIGN_OR_RETURN(auto pp, get_number(b, "presence_penalty", -2.0, 2.0));
    if (pp) sp.presence_penalty = static_cast<float>(*pp);
    KITE_ASSIGN_OR_RETURN(auto fp, get_number(b, "frequency_penalty", -2.0, 2.0));
    if (fp) sp.frequency_penalty = static_cast<float>(*fp);
    KITE_ASSIGN_OR_RETURN(auto seed, get_int(b, "random_seed", INT64_MIN, INT64_MAX));
    if (seed) sp.seed = static_cast<uint64_t>(*seed);
    KITE_ASSIGN_OR_RETURN(r.stop, get_string_list(b, "stop_words_str", kMaxStops));
    if (auto it = b.find("stop_words_list"); it != b.end() && !it->is_null()) {
        if (!it->is_array()) return invalid_argument("stop_words_list: expected a list of token-id lists, got " + type_name(*it));
        if (it->size() > kMaxStopTokenIds)
            return invalid_argument("stop_words_list: at most " + std::to_string(kMaxStopTokenIds) + " entries, got " +
                                    std::to_string(it->size()));
        for (const json& seq : *it) {
            json holder = {{"stop_words_list", seq}};
            KITE_ASSIGN_OR_RETURN(auto ids, get_int_list(holder, "stop_words_list", 0, lim.vocab_size - 1, 64));
            if (ids.empty()) return invalid_argument("stop_words_list: entries must be non-empty lists of token ids");
            if (ids.size() == 1) r.stop_token_ids.push_back(ids[0]);
            else out.stop_id_sequences.push_back(std::move(ids));
        }
        // Multi-token entries become stop strings: together with stop_words_str, capped like `stop`.
        if (r.stop.size() + out.stop_id_sequences.size() > kMaxStops)
            return invalid_argument("stop_words_list: at most " + std::to_string(kMaxStops) +
                                    " multi-token entries and stop_words_str strings together, got " +
                                    std::to_string(r.stop.size() + out.stop_id_sequences.size()));
    }
    KITE_ASSIGN_OR_RETURN(auto beams, get_int(b, "num_beams", 1, 16));
    KITE_ASSIGN_OR_RETURN(auto nrs, get_int(b, "num_return_sequences", 0, 16));
    r.num_beams = static_cast<int>(beams.value_or(1));
    const int num_seq = static_cast<int>(std::max<int64_t>(1, nrs.value_or(1)));
    if (r.num_beams > 1) {
        if (num_seq > r.num_beams)
            return invalid_argument("num_return_sequences: " + std::to_string(num_seq) + " exceeds num_beams " +
                                    std::to_string(r.num_beams));
        r.num_return_sequences = num_seq;
    } else {
        r.n = num_seq;
    }
    KITE_ASSIGN_OR_RETURN(auto ri, get_bool(b, "return_input_ids"));
    out.api.return_input_ids = ri.value_or(false);
    KITE_ASSIGN_OR_RETURN(auto ro, get_bool(b, "return_output_ids"));
    out.api.return_output_ids = ro.value_or(false);
    KITE_ASSIGN_OR_RETURN(auto inc, get_bool(b, "return_incremental"));
    out.api.return_incremental = inc.value_or(false);
    KITE_ASSIGN_OR_RETURN(auto timeout, get_int(b, "timeout_ms", 0, INT64_MAX / 2));
    out.api.timeout_ms = timeout.value_or(0);
    KITE_ASSIGN_OR_RETURN(auto yield, get_bool(b, "yield_generator"));
    out.api.stream = yield.value_or(false);
    return Status::ok();
}

}  // namespace

Result<ParsedGeneration> parse_generation(const json& body, ApiKind kind, const ModelLimits& limits) {
    ParsedGeneration out;
    apply_defaults(limits.defaults, out.request.sampling);
    out.request.max_new_tokens = 0;  // 0 until finalize_request knows the prompt
    if (kind == ApiKind::kNative) KITE_RETURN_IF_ERROR(parse_native(body, limits, out));
    else KITE_RETURN_IF_ERROR(parse_openai(body, kind, limits, out));
    return out;
}

Status finalize_request(ParsedGeneration& parsed, ApiKind kind, const ModelLimits& limits,
                        std::vector<int32_t> prompt_ids) {
    GenerationRequest& r = parsed.request;
    if (prompt_ids.empty()) return invalid_argument("prompt: is empty (no tokens)");
    for (int32_t id : prompt_ids)
        if (id < 0 || id >= limits.vocab_size)
            return invalid_argument("prompt: token id " + std::to_string(id) + " is out of the vocabulary [0, " +
                                    std::to_string(limits.vocab_size) + ")");
    const int64_t len = static_cast<int64_t>(prompt_ids.size());
    const int64_t room = limits.max_model_len - len;
    if (room <= 0)
        return invalid_argument("prompt: has " + std::to_string(len) + " tokens; this model's maximum context length is " +
                                std::to_string(limits.max_model_len) + " tokens");
    if (parsed.api.max_tokens_given) {
        if (r.max_new_tokens > room) {
            const char* field = kind == ApiKind::kNative ? "max_new_tokens" : "max_tokens";
            return invalid_argument(std::string(field) + ": this model's maximum context length is " +
                                    std::to_string(limits.max_model_len) + " tokens; the prompt has " + std::to_string(len) +
                                    " tokens and " + field + " asks for " + std::to_string(r.max_new_tokens) + " more");
        }
    } else {
        r.max_new_tokens = static_cast<int>(kind == ApiKind::kCompletions ? std::min<int64_t>(16, room) : room);
    }
    if (r.min_new_tokens > r.max_new_tokens)
        return invalid_argument((kind == ApiKind::kNative ? std::string("min_new_tokens") : std::string("min_tokens")) +
                                ": " + std::to_string(r.min_new_tokens) + " exceeds the maximum of " +
                                std::to_string(r.max_new_tokens) + " new tokens");
    KITE_RETURN_IF_ERROR(r.sampling.validate(limits.vocab_size));
    r.prompt_ids = std::move(prompt_ids);
    return Status::ok();
}

Result<std::vector<PromptInput>> parse_prompts(const json& body, const char* field, int64_t vocab_size,
                                               size_t max_prompts) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) return invalid_argument(std::string(field) + ": is required");
    std::vector<PromptInput> out;
    const std::string expected = "expected a string, a list of strings, a list of token ids or a list of token-id lists";
    auto ids_of = [&](const json& arr) -> Result<PromptInput> {
        PromptInput p;
        p.is_ids = true;
        for (const json& v : arr) {
            if (!v.is_number_integer()) return invalid_argument(std::string(field) + ": " + expected);
            const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                                                                              : v.get<int64_t>();
            if (x < 0 || x >= vocab_size)
                return invalid_argument(std::string(field) + ": token id " + std::to_string(x) +
                                        " is out of the vocabulary [0, " + std::to_string(vocab_size) + ")");
            p.ids.push_back(static_cast<int32_t>(x));
        }
        if (p.ids.empty()) return invalid_argument(std::string(field) + ": a token-id list must not be empty");
        return p;
    };
    if (it->is_string()) {
        out.push_back({it->get<std::string>(), {}, false});
    } else if (it->is_array()) {
        if (it->empty()) return invalid_argument(std::string(field) + ": must not be an empty list");
        const json& first = it->front();
        if (first.is_number_integer()) {
            KITE_ASSIGN_OR_RETURN(auto p, ids_of(*it));
            out.push_back(std::move(p));
        } else {
            for (const json& e : *it) {
                if (e.is_string()) {
                    out.push_back({e.get<std::string>(), {}, false});
                } else if (e.is_array()) {
                    KITE_ASSIGN_OR_RETURN(auto p, ids_of(e));
                    out.push_back(std::move(p));
                } else {
                    return invalid_argument(std::string(field) + ": " + expected + ", found " + type_name(e) + " in the list");
                }
            }
        }
    } else {
        return invalid_argument(std::string(field) + ": " + expected + ", got " + type_name(*it));
    }
    if (out.size() > max_prompts)
        return invalid_argument(std::string(field) + ": at most " + std::to_string(max_prompts) + " prompts, got " +
                                std::to_string(out.size()));
    return out;
}

}  // namespace kite::server
