// GrammarCompiler (the vocabulary handed to llguidance once) and the per-sequence processor that
// masks logits with the matcher's allowed-token bitmask. The next mask is computed on a worker
// thread as soon as a token is accepted, so it overlaps the following forward pass.
#include "structured/grammar.h"

#include <cmath>
#include <future>
#include <limits>

#include <nlohmann/json.hpp>

#include "structured/llguidance_api.h"

namespace kite::structured {

namespace {

size_t tokenize_with(const void* user, const uint8_t* bytes, size_t len, uint32_t* out, size_t cap) {
    const auto* tok = static_cast<const Tokenizer*>(user);
    auto ids = tok->encode(std::string_view(reinterpret_cast<const char*>(bytes), len), /*add_special_tokens=*/false);
    if (!ids.ok()) return 0;
    for (size_t i = 0; i < ids->size() && i < cap; ++i) out[i] = static_cast<uint32_t>((*ids)[i]);
    return ids->size();
}

// Whether encode() gives back exactly the bytes it was given (no prefix space, no normalization).
bool tokenize_is_faithful(const Tokenizer& tok, const std::vector<std::string>& bytes) {
    for (const char* probe : {"a", "Hello world", " x", "{\"k\": [1, 2]}", "\n\tz"}) {
        auto ids = tok.encode(probe, /*add_special_tokens=*/false);
        if (!ids.ok()) return false;
        std::string back;
        for (int32_t id : *ids) {
            if (id < 0 || static_cast<size_t>(id) >= bytes.size()) return false;
            back += bytes[static_cast<size_t>(id)];
        }
        if (back != probe) return false;
    }
    return true;
}

// Rust-regex escaping of a literal string.
std::string regex_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (std::string("\\.+*?()|[]{}^$#&-~").find(c) != std::string::npos) out += '\\';
        out += c;
    }
    return out;
}

class GrammarProcessor : public LogitsProcessor {
public:
    GrammarProcessor(std::shared_ptr<const GrammarCompiler> owner, const LlgApi* api, LlgMatcher* m,
                     std::vector<int32_t> eos_ids)
        : owner_(std::move(owner)), api_(api), m_(m), eos_ids_(std::move(eos_ids)) {
        mask_.resize((api_->matcher_get_mask_byte_size(m_) + 3) / 4);
    }
    ~GrammarProcessor() override {
        if (pending_.valid()) pending_.wait();
        api_->free_matcher(m_);
    }

    void apply(std::span<float> logits) override {
        const int32_t rc = pending_.valid() ? pending_.get() : compute();
        const float ninf = -std::numeric_limits<float>::infinity();
        bool any = false;
        if (rc == 0) {
            const size_t bits = mask_.size() * 32;
            for (size_t i = 0; i < logits.size(); ++i) {
                const bool ok = i < bits && ((mask_[i / 32] >> (i % 32)) & 1u);
                if (!ok) logits[i] = ninf;
                any = any || ok;
            }
        }
        if (!any) {  // a matcher in error (should not happen): end the sequence
            for (float& x : logits) x = ninf;
            for (int32_t e : eos_ids_)
                if (e >= 0 && static_cast<size_t>(e) < logits.size()) logits[static_cast<size_t>(e)] = 0.0f;
        }
    }

    void accept(int32_t token) override {
        if (api_->matcher_consume_token(m_, static_cast<uint32_t>(token)) != 0) return;
        pending_ = std::async(std::launch::async, [this] { return compute(); });
    }

private:
    int32_t compute() { return api_->matcher_compute_mask_into(m_, mask_.data(), mask_.size() * 4); }

    std::shared_ptr<const GrammarCompiler> owner_;  // keeps the tokenizer the matcher refers to
    const LlgApi* api_;
    LlgMatcher* m_;
    std::vector<int32_t> eos_ids_;
    std::vector<uint32_t> mask_;
    std::future<int32_t> pending_;
};

}  // namespace

Result<std::shared_ptr<GrammarCompiler>> GrammarCompiler::create(std::shared_ptr<const Tokenizer> tok, int64_t vocab_size,
                                                                 std::vector<int32_t> eos_ids) {
    KITE_ASSIGN_OR_RETURN(const LlgApi* api, llguidance());
    if (eos_ids.empty()) return failed_precondition("structured output needs the model's EOS token id");
    std::shared_ptr<GrammarCompiler> c(new GrammarCompiler());
    c->api_ = api;
    c->tok_ = tok;
    c->vocab_size_ = std::max<int64_t>(vocab_size, tok->vocab_size());
    c->eos_ids_ = eos_ids;
    std::vector<std::string> bytes = vocab_bytes(*tok);
    for (int64_t id = static_cast<int64_t>(bytes.size()); id < c->vocab_size_; ++id)
        bytes.push_back("\xFF<[" + std::to_string(id) + "]>");  // logits rows past the tokenizer: never text
    for (const std::string& b : bytes) {
        c->token_lens_.push_back(static_cast<uint32_t>(b.size()));
        c->token_bytes_ += b;
    }
    std::vector<uint32_t> extra(eos_ids.begin() + 1, eos_ids.end());
    LlgTokenizerInitV2 init{};
    init.struct_size = sizeof(init);
    init.vocab_size = static_cast<uint32_t>(c->vocab_size_);
    init.tok_eos = static_cast<uint32_t>(eos_ids[0]);
    init.token_lens = c->token_lens_.data();
    init.token_bytes = reinterpret_cast<const uint8_t*>(c->token_bytes_.data());
    init.tokenize_assumes_string = true;
    // llguidance trusts the callback to tokenize exactly the bytes it is given; a tokenizer that
    // adds something (SentencePiece's leading "▁") would mislead it, so then its own greedy
    // tokenizer is used (only the choice among equivalent token paths depends on it, not the mask's
    // correctness).
    const bool faithful = tokenize_is_faithful(*tok, bytes);
    init.tokenize_fn = faithful ? &tokenize_with : nullptr;
    init.use_approximate_greedy_tokenize_fn = !faithful;
    init.tokenize_user_data = c->tok_.get();
    init.tok_eos_extra = extra.empty() ? nullptr : extra.data();
    init.tok_eos_extra_count = static_cast<uint32_t>(extra.size());
    char err[1024] = {0};
    c->tokenizer_ = api->new_tokenizer_v2(&init, err, sizeof(err));
    if (!c->tokenizer_) return internal_error(std::string("llguidance rejected the vocabulary: ") + err);
    return c;
}

GrammarCompiler::~GrammarCompiler() {
    if (tokenizer_) api_->free_tokenizer(tokenizer_);
}

Result<LogitsProcessorFactory> GrammarCompiler::compile(const ConstraintSpec& spec) const {
    std::string type, data;
    switch (spec.kind) {
        case ConstraintKind::kJsonSchema:
        case ConstraintKind::kJsonObject: {
            type = "json_schema";
            auto schema = spec.kind == ConstraintKind::kJsonObject ? nlohmann::json{{"type", "object"}}
                                                                   : nlohmann::json::parse(spec.data, nullptr, false);
            if (schema.is_discarded()) return invalid_argument("not valid JSON");
            if (schema.is_boolean()) schema = schema.get<bool>() ? nlohmann::json::object() : nlohmann::json{{"not", {}}};
            // Fixed separators instead of "any whitespace": a model cannot stall in an endless run
            // of blanks between tokens, and the output looks like json.dumps'. A schema's own
            // x-guidance settings win.
            if (schema.is_object() && !schema.contains("x-guidance"))
                schema["x-guidance"] = {{"whitespace_flexible", false}};
            data = schema.dump();
            break;
        }
        case ConstraintKind::kRegex: type = "regex"; data = spec.data; break;
        case ConstraintKind::kChoice: {
            if (spec.choices.empty()) return invalid_argument("expected at least one choice");
            type = "regex";
            for (size_t i = 0; i < spec.choices.size(); ++i) data += (i ? "|" : "") + regex_escape(spec.choices[i]);
            data = "(" + data + ")";
            break;
        }
        case ConstraintKind::kGrammar: {
            type = "lark";
            KITE_ASSIGN_OR_RETURN(data, ebnf_to_lark(spec.data));
            break;
        }
    }
    LlgConstraintInit init{};
    api_->constraint_init_set_defaults(&init, tokenizer_);
    init.log_stderr_level = 0;  // errors come back as values
    LlgMatcher* m = api_->new_matcher(&init, type.c_str(), data.c_str());
    if (const char* e = api_->matcher_get_error(m)) {
        std::string msg = e;
        api_->free_matcher(m);
        if (msg.size() > 500) msg = msg.substr(0, 500) + "...";
        return invalid_argument(msg);
    }
    // One compiled matcher per request; each sequence gets a clone.
    auto proto = std::shared_ptr<LlgMatcher>(m, [api = api_](LlgMatcher* p) { api->free_matcher(p); });
    // The compiler outlives every request (the server holds it); the processor keeps it alive too.
    auto self = shared_from_this();
    const LlgApi* api = api_;
    std::vector<int32_t> eos = eos_ids_;
    return LogitsProcessorFactory([proto, api, eos, self]() -> std::unique_ptr<LogitsProcessor> {
        return std::make_unique<GrammarProcessor>(self, api, api->clone_matcher(proto.get()), eos);
    });
}

}  // namespace kite::structured
