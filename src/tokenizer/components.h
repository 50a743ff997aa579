// The pipeline stages of a tokenizer.json (normalizer, pre-tokenizer, model, post-processor,
// decoder) as small interfaces, plus the factories that build each from its JSON object.
// Stages work on plain strings: kite needs ids and text, not the offset alignments HF tracks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace kite::tok {

using json = nlohmann::json;
class Regex;

// The pattern of a Replace normalizer/decoder or Split pre-tokenizer: {"String": "..."} (a
// literal, used when `regex` is null) or {"Regex": "..."}.
struct Pattern {
    std::string literal;
    std::shared_ptr<const Regex> regex;
    std::string replace_all(std::string_view s, std::string_view content) const;
};
// Reads field "pattern" of the stage object `j`.
Result<Pattern> parse_pattern(const json& j, const std::string& where);

// A piece of text moving through the pre-tokenizers. `at_start` says the piece begins at the
// first byte of the input (Metaspace's prepend_scheme "first" needs it).
struct Piece {
    std::string text;
    bool at_start = false;
};

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string& s) const = 0;
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Replaces `pieces` by their split (and possibly rewritten) pieces.
    virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

class Model {
public:
    virtual ~Model() = default;
    // Appends the ids of one pre-tokenized word.
    virtual Status tokenize(std::string_view word, std::vector<int32_t>& out) const = 0;
    virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
    virtual const std::string* id_to_token(int32_t id) const = 0;  // nullptr when unknown
    virtual int64_t vocab_size() const = 0;
};

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    // Called only when special tokens are requested; single sequence.
    virtual void process(std::vector<int32_t>& ids) const = 0;
};

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Factories: `j` is the stage's JSON object (never null here). Errors name the stage and field.
Result<std::unique_ptr<Normalizer>> make_normalizer(const json& j);
Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const json& j);
Result<std::unique_ptr<Model>> make_model(const json& j);
Result<std::unique_ptr<PostProcessor>> make_post_processor(const json& j);
Result<std::unique_ptr<Decoder>> make_decoder(const json& j);
// [bos] $A [eos]: what transformers rebuilds for Llama-style tokenizers from add_bos/eos_token.
std::unique_ptr<PostProcessor> make_bos_eos_processor(std::optional<int32_t> bos, std::optional<int32_t> eos);

// "<0xAB>": the vocabulary entry byte_fallback uses for a byte.
std::string byte_fallback_token(unsigned char b);

// WordPiece's decoder cleanup (" ." -> "." etc.), shared with the CTC decoder.
std::string wordpiece_cleanup(std::string s);

// Bounds how deep Sequence stages nest: a hostile file could otherwise nest them until building
// (or running) the stage overflows the stack. One guard per Sequence level being built.
class NestingGuard {
public:
    static constexpr int kMaxDepth = 32;
    NestingGuard() { ++depth(); }
    ~NestingGuard() { --depth(); }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;
    bool too_deep() const { return depth() > kMaxDepth; }

private:
    static int& depth() {
        thread_local int d = 0;
        return d;
    }
};

// JSON helpers that report "<where>: field 'x' ..." instead of throwing.
Result<std::string> get_string(const json& j, const char* key, const std::string& where);
std::string get_string_or(const json& j, const char* key, const std::string& fallback);
bool get_bool_or(const json& j, const char* key, bool fallback);
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

}  // namespace kite::tok
