// The request-field table and the one JSON -> GenerationRequest builder (see request_fields.h).
// OpenAI names (max_tokens, seed, stop, ...) and rtp-llm names (max_new_tokens, random_seed,
// stop_words_str, ...) map onto the same engine fields; ranges follow OpenAI's documentation where
// it gives one.
#include "engine/request_fields.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "engine/json_fields.h"

namespace kite {

namespace {

using nlohmann::json;

constexpr unsigned C = api_bit(ApiKind::kCompletions), H = api_bit(ApiKind::kChat), N = api_bit(ApiKind::kNative),
                   B = api_bit(ApiKind::kBatch);
constexpr unsigned O = C | H, ALL = C | H | N | B;
constexpr double kMaxTokens = 1 << 30;
constexpr double kI64Min = static_cast<double>(INT64_MIN), kI64Max = static_cast<double>(INT64_MAX);

GenerationRequest& req(FieldContext& c) { return c.out.request; }
SamplingParams& sp(FieldContext& c) { return c.out.request.sampling; }

Status set_max_tokens(const FieldValue& v, FieldContext& c) {
    req(c).max_new_tokens = static_cast<int>(v.i);
    c.out.api.max_tokens_given = true;
    return Status::ok();
}

Status parse_logit_bias(const FieldValue& v, FieldContext& c) {
    const json& obj = *v.raw;
    const int64_t vocab = c.limits.vocab_size;
    if (obj.size() > 1024) return invalid_argument("logit_bias: at most 1024 entries, got " + std::to_string(obj.size()));
    for (const auto& [key, value] : obj.items()) {
        char* end = nullptr;
        errno = 0;
        const long long id = std::strtoll(key.c_str(), &end, 10);
        if (key.empty() || *end != '\0' || errno == ERANGE)
            return invalid_argument("logit_bias: key '" + key + "' is not a token id");
        if (id < 0 || id >= vocab)
            return invalid_argument("logit_bias: token id " + key + " is out of the vocabulary [0, " + std::to_string(vocab) + ")");
        if (!value.is_number()) return invalid_argument("logit_bias: bias of token " + key + " must be a number, got " + type_name(value));
        const double b = value.get<double>();
        if (!(b >= -100.0 && b <= 100.0)) return invalid_argument("logit_bias: bias of token " + key + " must be in [-100, 100]");
        sp(c).logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
    }
    return Status::ok();
}

Status parse_stop_words_list(const FieldValue& v, FieldContext& c) {
    if (!v.raw->is_array()) return invalid_argument("stop_words_list: expected a list of token-id lists, got " + type_name(*v.raw));
    for (const json& seq : *v.raw) {
        json holder = {{"stop_words_list", seq}};
        KITE_ASSIGN_OR_RETURN(auto ids, get_int_list(holder, "stop_words_list", 0, c.limits.vocab_size - 1, 64));
        if (ids.empty()) return invalid_argument("stop_words_list: entries must be non-empty lists of token ids");
        if (ids.size() == 1) req(c).stop_token_ids.push_back(ids[0]);
        else c.out.stop_id_sequences.push_back(std::move(ids));
    }
    return Status::ok();
}

Status parse_stream_options(const FieldValue& v, FieldContext& c) {
    if (!c.out.api.stream) return invalid_argument("stream_options: only allowed when stream is true");
    KITE_ASSIGN_OR_RETURN(auto usage, get_bool(*v.raw, "include_usage"));
    if (usage) c.out.api.include_usage = *usage;
    KITE_ASSIGN_OR_RETURN(auto continuous, get_bool(*v.raw, "continuous_usage_stats"));
    if (continuous) c.out.api.continuous_usage = *continuous;
    return Status::ok();
}

Status ignore(const FieldValue&, FieldContext&) { return Status::ok(); }

// Rows in application order: a later row may read or override what an earlier one set.
const std::vector<RequestField> kFields = {
    {"max_tokens", O | B, FieldType::kInt, 1, kMaxTokens, 0, "generation_config's max_new_tokens, else 16 (completions), 256 (--requests) or the rest of the context (chat)",
     "most tokens to generate", set_max_tokens},
    {"max_completion_tokens", H, FieldType::kInt, 1, kMaxTokens, 0, "max_tokens", "most tokens to generate (wins over max_tokens)", set_max_tokens},
    {"max_new_tokens", N | B, FieldType::kInt, 1, kMaxTokens, 0, "generation_config's max_new_tokens, else 256 (--requests) or the rest of the context (native)",
     "most tokens to generate", set_max_tokens},
    {"min_tokens", O, FieldType::kInt, 0, kMaxTokens, 0, "0", "EOS and stop conditions are ignored before this many tokens",
     [](const FieldValue& v, FieldContext& c) { req(c).min_new_tokens = static_cast<int>(v.i); return Status::ok(); }},
    {"min_new_tokens", N | B, FieldType::kInt, 0, kMaxTokens, 0, "0", "EOS and stop conditions are ignored before this many tokens",
     [](const FieldValue& v, FieldContext& c) { req(c).min_new_tokens = static_cast<int>(v.i); return Status::ok(); }},
    {"temperature", O, FieldType::kNumber, 0, 2, 0, "generation_config's (0 when do_sample is false), else 1", "0 means greedy",
     [](const FieldValue& v, FieldContext& c) { sp(c).temperature = static_cast<float>(v.d); return Status::ok(); }},
    {"temperature", N | B, FieldType::kNumber, 0, 100, 0, "generation_config's (0 when do_sample is false), else 1", "0 means greedy",
     [](const FieldValue& v, FieldContext& c) { sp(c).temperature = static_cast<float>(v.d); return Status::ok(); }},
    {"top_p", O | B, FieldType::kNumber, 0, 1, 0, "generation_config's, else 1", "nucleus sampling; must be > 0",
     [](const FieldValue& v, FieldContext& c) {
         if (v.d <= 0.0) return invalid_argument("top_p: must be in (0, 1], got 0");
         sp(c).top_p = static_cast<float>(v.d);
         return Status::ok();
     }},
    {"top_p", N, FieldType::kNumber, 0, 1, 0, "generation_config's, else 1", "nucleus sampling; 0 means off (rtp-llm)",
     [](const FieldValue& v, FieldContext& c) { sp(c).top_p = v.d <= 0.0 ? 1.0f : static_cast<float>(v.d); return Status::ok(); }},
    {"top_k", ALL, FieldType::kInt, -1, kVocabSize, 0, "generation_config's, else 0", "keep the k most likely tokens; 0 or -1 means off",
     [](const FieldValue& v, FieldContext& c) { sp(c).top_k = static_cast<int>(v.i); return Status::ok(); }},
    {"min_p", ALL, FieldType::kNumber, 0, 1, 0, "generation_config's, else 0", "keep tokens with p >= min_p * p_max",
     [](const FieldValue& v, FieldContext& c) { sp(c).min_p = static_cast<float>(v.d); return Status::ok(); }},
    {"repetition_penalty", ALL, FieldType::kNumber, 1e-6, 100, 0, "generation_config's, else 1", "Hugging Face's, over prompt and output",
     [](const FieldValue& v, FieldContext& c) { sp(c).repetition_penalty = static_cast<float>(v.d); return Status::ok(); }},
    {"presence_penalty", ALL, FieldType::kNumber, -2, 2, 0, "0", "OpenAI's, over output tokens",
     [](const FieldValue& v, FieldContext& c) { sp(c).presence_penalty = static_cast<float>(v.d); return Status::ok(); }},
    {"frequency_penalty", ALL, FieldType::kNumber, -2, 2, 0, "0", "OpenAI's, over output tokens",
     [](const FieldValue& v, FieldContext& c) { sp(c).frequency_penalty = static_cast<float>(v.d); return Status::ok(); }},
    {"seed", O | B, FieldType::kInt, kI64Min, kI64Max, 0, "none (random)", "same seed, same output; sample i uses seed + i",
     [](const FieldValue& v, FieldContext& c) { sp(c).seed = static_cast<uint64_t>(v.i); return Status::ok(); }},
    {"random_seed", N, FieldType::kInt, kI64Min, kI64Max, 0, "none (random)", "same seed, same output; sample i uses seed + i",
     [](const FieldValue& v, FieldContext& c) { sp(c).seed = static_cast<uint64_t>(v.i); return Status::ok(); }},
    {"logit_bias", O, FieldType::kObject, 0, 0, 0, "none", "token id -> bias in [-100, 100], at most 1024", parse_logit_bias},
    {"n", O | B, FieldType::kInt, 1, 128, 0, "1", "samples of the prompt",
     [](const FieldValue& v, FieldContext& c) { req(c).n = static_cast<int>(v.i); return Status::ok(); }},
    {"best_of", O, FieldType::kInt, 1, 128, 0, "n", "only best_of == n",
     [](const FieldValue& v, FieldContext& c) {
         if (v.i == req(c).n) return Status::ok();
         return invalid_argument("best_of: only best_of == n is supported, got best_of " + std::to_string(v.i) + " with n " +
                                 std::to_string(req(c).n));
     }},
    {"num_beams", N | B, FieldType::kInt, 1, 16, 0, "1", "beam search (Hugging Face's generate) when > 1",
     [](const FieldValue& v, FieldContext& c) { req(c).num_beams = static_cast<int>(v.i); return Status::ok(); }},
    {"num_return_sequences", N | B, FieldType::kInt, 0, 16, 0, "1", "beams returned (<= num_beams); without beams, samples (as n)",
     [](const FieldValue& v, FieldContext& c) {
         req(c).num_return_sequences = static_cast<int>(std::max<int64_t>(1, v.i));
         return Status::ok();
     }},
    {"length_penalty", N | B, FieldType::kNumber, -100, 100, 0, "1", "beam score = sum logprob / length ** length_penalty",
     [](const FieldValue& v, FieldContext& c) { req(c).length_penalty = static_cast<float>(v.d); return Status::ok(); }},
    {"early_stopping", N | B, FieldType::kBool, 0, 0, 0, "false", "beam search ends once num_beams hypotheses are done",
     [](const FieldValue& v, FieldContext& c) { req(c).early_stopping = v.b; return Status::ok(); }},
    {"stop", O | B, FieldType::kStringList, 0, 0, 16, "none", "stop strings (a string or a list), not part of the output",
     [](const FieldValue& v, FieldContext& c) { req(c).stop = v.strings; return Status::ok(); }},
    {"stop_words_str", N, FieldType::kStringList, 0, 0, 16, "none", "stop strings, not part of the output",
     [](const FieldValue& v, FieldContext& c) { req(c).stop = v.strings; return Status::ok(); }},
    {"stop_token_ids", O | B, FieldType::kIntList, 0, kLastTokenId, 1024, "none", "token ids that end a sequence (besides EOS)",
     [](const FieldValue& v, FieldContext& c) { req(c).stop_token_ids = v.ids; return Status::ok(); }},
    {"stop_words_list", N, FieldType::kAny, 0, 0, 0, "none", "token-id lists that end a sequence", parse_stop_words_list},
    {"ignore_eos", ALL, FieldType::kBool, 0, 0, 0, "false", "keep generating past EOS",
     [](const FieldValue& v, FieldContext& c) { req(c).ignore_eos = v.b; return Status::ok(); }},
    {"skip_special_tokens", O | B, FieldType::kBool, 0, 0, 0, "true", "leave special tokens out of the text",
     [](const FieldValue& v, FieldContext& c) { req(c).skip_special_tokens = v.b; return Status::ok(); }},
    {"include_stop_str_in_output", O | B, FieldType::kBool, 0, 0, 0, "false", "keep the matched stop string in the text",
     [](const FieldValue& v, FieldContext& c) { req(c).include_stop_str_in_output = v.b; return Status::ok(); }},
    {"priority", B, FieldType::kInt, INT_MIN, INT_MAX, 0, "0", "smaller runs first under --policy priority",
     [](const FieldValue& v, FieldContext& c) { req(c).priority = static_cast<int>(v.i); return Status::ok(); }},
    {"logprobs", C | B, FieldType::kInt, 0, 20, 0, "none", "log-probability of each token and of the N most likely",
     [](const FieldValue& v, FieldContext& c) { c.out.api.logprobs = static_cast<int>(v.i); return Status::ok(); }},
    {"logprobs", H, FieldType::kBool, 0, 0, 0, "false", "log-probability of each token (top_logprobs: of the N most likely)",
     [](const FieldValue& v, FieldContext& c) {
         if (v.b) c.out.api.logprobs = 0;
         return Status::ok();
     }},
    {"top_logprobs", H, FieldType::kInt, 0, 20, 0, "0", "with logprobs: the N most likely tokens",
     [](const FieldValue& v, FieldContext& c) {
         if (c.out.api.logprobs < 0) return invalid_argument("top_logprobs: requires logprobs to be true");
         c.out.api.logprobs = static_cast<int>(v.i);
         return Status::ok();
     }},
    {"echo", C, FieldType::kBool, 0, 0, 0, "false", "the prompt comes before the completion",
     [](const FieldValue& v, FieldContext& c) {
         c.out.api.echo = v.b;
         if (v.b && c.out.api.logprobs >= 0)
             return invalid_argument("logprobs: not supported together with echo (no prompt logprobs)");
         return Status::ok();
     }},
    {"suffix", C, FieldType::kString, 0, 0, 0, "none", "not supported (an error unless empty)",
     [](const FieldValue& v, FieldContext&) {
         return v.s.empty() ? Status::ok() : invalid_argument("suffix: not supported by this model");
     }},
    // Structured output, tools and LoRA adapters are read by the server (server/structured_output.cpp,
    // tool_calls.cpp, lora_routes.cpp), which checks them against the loaded model; listed here so the
    // table names every field.
    {"response_format", O | N, FieldType::kObject, 0, 0, 0, "text", "json_object or json_schema (with strict): constrains the output", ignore},
    {"guided_json", O | N, FieldType::kAny, 0, 0, 0, "none", "a JSON schema the output must match", ignore},
    {"guided_regex", O | N, FieldType::kString, 0, 0, 0, "none", "a regular expression the whole output must match", ignore},
    {"guided_choice", O | N, FieldType::kAny, 0, 0, 0, "none", "a list of strings: the output is one of them", ignore},
    {"guided_grammar", O | N, FieldType::kString, 0, 0, 0, "none", "an EBNF (GBNF) or Lark grammar the output must match", ignore},
    {"tools", H, FieldType::kAny, 0, 0, 0, "none", "function tools: passed to the chat template, calls parsed into tool_calls", ignore},
    {"tool_choice", H, FieldType::kAny, 0, 0, 0, "auto", "none, auto, required or a named function", ignore},
    {"adapter_name", N, FieldType::kString, 0, 0, 0, "none", "a loaded LoRA adapter (OpenAI APIs: \"model\")", ignore},
    {"stream", O, FieldType::kBool, 0, 0, 0, "false", "answer as server-sent events",
     [](const FieldValue& v, FieldContext& c) { c.out.api.stream = v.b; return Status::ok(); }},
    {"yield_generator", N, FieldType::kBool, 0, 0, 0, "false", "answer as server-sent events",
     [](const FieldValue& v, FieldContext& c) { c.out.api.stream = v.b; return Status::ok(); }},
    {"stream_options", O, FieldType::kObject, 0, 0, 0, "none", "{\"include_usage\": true} adds a usage chunk, continuous_usage_stats usage in every chunk; needs stream", parse_stream_options},
    {"return_incremental", N, FieldType::kBool, 0, 0, 0, "false", "stream only the new text of each event",
     [](const FieldValue& v, FieldContext& c) { c.out.api.return_incremental = v.b; return Status::ok(); }},
    {"return_input_ids", N, FieldType::kBool, 0, 0, 0, "false", "answer with the prompt's token ids",
     [](const FieldValue& v, FieldContext& c) { c.out.api.return_input_ids = v.b; return Status::ok(); }},
    {"return_output_ids", N, FieldType::kBool, 0, 0, 0, "false", "answer with the output token ids",
     [](const FieldValue& v, FieldContext& c) { c.out.api.return_output_ids = v.b; return Status::ok(); }},
    {"timeout_ms", N, FieldType::kInt, 0, static_cast<double>(INT64_MAX / 2), 0, "0 (none)", "abort after this long",
     [](const FieldValue& v, FieldContext& c) { c.out.api.timeout_ms = v.i; return Status::ok(); }},
    {"model", O, FieldType::kString, 0, 0, 0, "the served model", "the served model, or a loaded LoRA adapter to apply", ignore},
    {"user", O, FieldType::kString, 0, 0, 0, "none", "accepted, unused", ignore},
};

double resolve(double bound, const ModelLimits& lim) {
    if (bound == kVocabSize) return static_cast<double>(lim.vocab_size);
    if (bound == kLastTokenId) return static_cast<double>(lim.vocab_size - 1);
    return bound;
}

int64_t as_int(double x) {
    if (x <= kI64Min) return INT64_MIN;
    if (x >= kI64Max) return INT64_MAX;
    return static_cast<int64_t>(x);
}

// Type and range checks of one row; false in `present` when the field is absent or null.
Status read_value(const json& body, const RequestField& f, const ModelLimits& lim, FieldValue& v, bool& present) {
    auto it = body.find(f.name);
    present = it != body.end() && !it->is_null();
    if (!present) return Status::ok();
    v.raw = &*it;
    const int64_t lo = as_int(resolve(f.min, lim)), hi = as_int(resolve(f.max, lim));
    switch (f.type) {
        case FieldType::kInt: {
            KITE_ASSIGN_OR_RETURN(auto x, get_int(body, f.name, lo, hi));
            v.i = *x;
            break;
        }
        case FieldType::kNumber: {
            KITE_ASSIGN_OR_RETURN(auto x, get_number(body, f.name, resolve(f.min, lim), resolve(f.max, lim)));
            v.d = *x;
            break;
        }
        case FieldType::kBool: {
            KITE_ASSIGN_OR_RETURN(auto x, get_bool(body, f.name));
            v.b = *x;
            break;
        }
        case FieldType::kString: {
            KITE_ASSIGN_OR_RETURN(auto x, get_string(body, f.name));
            v.s = *x;
            break;
        }
        case FieldType::kStringList: {
            KITE_ASSIGN_OR_RETURN(v.strings, get_string_list(body, f.name, f.max_items));
            break;
        }
        case FieldType::kIntList: {
            KITE_ASSIGN_OR_RETURN(v.ids, get_int_list(body, f.name, lo, hi, f.max_items));
            break;
        }
        case FieldType::kObject:
            if (!it->is_object()) return invalid_argument(std::string(f.name) + ": expected an object, got " + type_name(*it));
            break;
        case FieldType::kAny: break;
    }
    return Status::ok();
}

// The native API reads generate_config's fields, else the top level's.
Result<json> native_fields(const json& body) {
    json b = json::object();
    for (const auto& [k, v] : body.items())
        if (k != "generate_config") b[k] = v;
    if (auto it = body.find("generate_config"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return invalid_argument("generate_config: expected an object, got " + type_name(*it));
        for (const auto& [k, v] : it->items()) b[k] = v;
    }
    return b;
}

// num_beams / num_return_sequences / n, as Hugging Face means them: without beams,
// num_return_sequences asks for that many samples.
Status reconcile_sequences(GenerationRequest& r) {
    if (r.num_beams > 1) {
        if (r.num_return_sequences > r.num_beams)
            return invalid_argument("num_return_sequences: " + std::to_string(r.num_return_sequences) +
                                    " exceeds num_beams " + std::to_string(r.num_beams));
        return Status::ok();
    }
    if (r.num_return_sequences > 1) {
        if (r.n > 1 && r.n != r.num_return_sequences)
            return invalid_argument("num_return_sequences: " + std::to_string(r.num_return_sequences) +
                                    " disagrees with n " + std::to_string(r.n));
        r.n = r.num_return_sequences;
        r.num_return_sequences = 1;
    }
    return Status::ok();
}

}  // namespace

const std::vector<RequestField>& request_fields() { return kFields; }

void apply_generation_defaults(const GenerationDefaults& d, GenerationRequest& r) {
    SamplingParams& s = r.sampling;
    // Hugging Face: do_sample=false is greedy whatever the sampling fields say.
    if (!d.do_sample) {
        s.temperature = 0.0f;
    } else {
        if (d.temperature >= 0) s.temperature = d.temperature;
        if (d.top_k >= 0) s.top_k = d.top_k;
        if (d.top_p > 0) s.top_p = d.top_p;
        if (d.min_p >= 0) s.min_p = d.min_p;
    }
    if (d.repetition_penalty > 0) s.repetition_penalty = d.repetition_penalty;
    if (d.max_new_tokens > 0) r.max_new_tokens = d.max_new_tokens;
}

Result<ParsedGeneration> parse_generation(const json& body, ApiKind kind, const ModelLimits& limits) {
    ParsedGeneration out;
    apply_generation_defaults(limits.defaults, out.request);
    out.request.max_new_tokens = 0;  // 0 until finalize_request knows the prompt
    json merged;
    const json* fields = &body;
    if (kind == ApiKind::kNative) {
        KITE_ASSIGN_OR_RETURN(merged, native_fields(body));
        fields = &merged;
    }
    FieldContext ctx{out, kind, limits, *fields};
    for (const RequestField& f : kFields) {
        if ((f.apis & api_bit(kind)) == 0) continue;
        FieldValue v;
        bool present = false;
        KITE_RETURN_IF_ERROR(read_value(*fields, f, limits, v, present));
        if (present) KITE_RETURN_IF_ERROR(f.apply(v, ctx));
    }
    KITE_RETURN_IF_ERROR(reconcile_sequences(out.request));
    out.request.sampling.logprobs = out.api.logprobs;
    return out;
}

Status finalize_request(ParsedGeneration& parsed, ApiKind kind, const ModelLimits& limits,
                        std::vector<int32_t> prompt_ids) {
    GenerationRequest& r = parsed.request;
    if (prompt_ids.empty()) return invalid_argument("prompt: is empty (no tokens)");
    for (int32_t id : prompt_ids)
        if (id < 0 || id >= limits.vocab_size)
            return invalid_argument("prompt: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                    std::to_string(limits.vocab_size) + ")");
    const int64_t len = static_cast<int64_t>(prompt_ids.size());
    const int64_t room = limits.max_model_len - len;
    if (room <= 0)
        return invalid_argument("prompt: has " + std::to_string(len) + " tokens; this model's maximum context length is " +
                                std::to_string(limits.max_model_len) + " tokens");
    const bool native_names = kind == ApiKind::kNative || kind == ApiKind::kBatch;
    if (parsed.api.max_tokens_given) {
        if (r.max_new_tokens > room) {
            const char* field = native_names ? "max_new_tokens" : "max_tokens";
            return invalid_argument(std::string(field) + ": this model's maximum context length is " +
                                    std::to_string(limits.max_model_len) + " tokens; the prompt has " + std::to_string(len) +
                                    " tokens and " + field + " asks for " + std::to_string(r.max_new_tokens) + " more");
        }
    } else {
        int64_t fallback = kind == ApiKind::kCompletions ? 16 : kind == ApiKind::kBatch ? 256 : room;
        if (limits.defaults.max_new_tokens > 0) fallback = limits.defaults.max_new_tokens;
        r.max_new_tokens = static_cast<int>(std::min(fallback, room));
    }
    if (r.min_new_tokens > r.max_new_tokens)
        return invalid_argument((native_names ? std::string("min_new_tokens") : std::string("min_tokens")) + ": " +
                                std::to_string(r.min_new_tokens) + " exceeds the maximum of " +
                                std::to_string(r.max_new_tokens) + " new tokens");
    KITE_RETURN_IF_ERROR(r.sampling.validate(limits.vocab_size));
    r.prompt_ids = std::move(prompt_ids);
    return Status::ok();
}

namespace {

std::string apis_text(unsigned apis) {
    std::string s;
    for (auto [bit, name] : {std::pair{C, "completions"}, {H, "chat"}, {N, "native"}, {B, "--requests"}}) {
        if ((apis & bit) == 0) continue;
        if (!s.empty()) s += ", ";
        s += name;
    }
    return s;
}

std::string number_text(double x) {
    if (x == kVocabSize) return "vocab_size";
    if (x == kLastTokenId) return "vocab_size - 1";
    if (x <= kI64Min) return "-2^63";
    if (x >= kI64Max) return "2^63 - 1";
    if (x == INT_MIN) return "-2^31";
    if (x == INT_MAX) return "2^31 - 1";
    if (x == kMaxTokens) return "2^30";
    if (x == static_cast<double>(INT64_MAX / 2)) return "2^62";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
}

std::string type_text(const RequestField& f) {
    switch (f.type) {
        case FieldType::kInt: return "integer in [" + number_text(f.min) + ", " + number_text(f.max) + "]";
        case FieldType::kNumber: return "number in [" + number_text(f.min) + ", " + number_text(f.max) + "]";
        case FieldType::kBool: return "boolean";
        case FieldType::kString: return "string";
        case FieldType::kStringList: return "string or list of strings (at most " + std::to_string(f.max_items) + ", none empty)";
        case FieldType::kIntList:
            return "list of integers in [" + number_text(f.min) + ", " + number_text(f.max) + "] (at most " +
                   std::to_string(f.max_items) + ")";
        case FieldType::kObject: return "object";
        case FieldType::kAny: return "see meaning";
    }
    return "";
}

}  // namespace

std::string request_fields_markdown() {
    std::string s = "| field | front ends | type and range | default | meaning |\n| --- | --- | --- | --- | --- |\n";
    for (const RequestField& f : kFields) {
        s += "| `" + std::string(f.name) + "` | " + apis_text(f.apis) + " | " + type_text(f) + " | " + f.default_text +
             " | " + f.meaning + " |\n";
    }
    return s;
}

}  // namespace kite
