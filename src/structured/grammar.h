// Structured output: a constraint (JSON schema, JSON object, regex, choice list, Lark or EBNF
// grammar) compiled for the served tokenizer into a token-level matcher (llguidance), and the
// engine's LogitsProcessor that masks every token the grammar does not allow next.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/logits_processor.h"
#include "tokenizer/tokenizer.h"

namespace kite::structured {

struct LlgTokenizer;
struct LlgMatcher;
struct LlgApi;

enum class ConstraintKind { kJsonSchema, kJsonObject, kRegex, kChoice, kGrammar };

struct ConstraintSpec {
    ConstraintKind kind = ConstraintKind::kJsonObject;
    std::string data;                 // schema JSON text, regex, or grammar text
    std::vector<std::string> choices; // kChoice
};

// The raw bytes of every token as generation would emit them (special tokens: 0xFF + name, so that
// no text can match them). Exposed for tests.
std::vector<std::string> vocab_bytes(const Tokenizer& tok);

// GBNF-style EBNF (`root ::= "a" [b-z]* rule`) to llguidance's Lark syntax; Lark input passes
// through. Errors name the line.
Result<std::string> ebnf_to_lark(const std::string& grammar);

class GrammarCompiler : public std::enable_shared_from_this<GrammarCompiler> {
public:
    // Builds the token trie of `tok` once (vocab_size: the model's logits width; eos_ids: the ids
    // that end a sequence). Fails when llguidance is unavailable.
    static Result<std::shared_ptr<GrammarCompiler>> create(std::shared_ptr<const Tokenizer> tok, int64_t vocab_size,
                                                           std::vector<int32_t> eos_ids);
    ~GrammarCompiler();

    // Compiles and checks a constraint (400-worthy errors name nothing: the caller adds the field).
    // The factory makes a fresh matcher per sequence.
    Result<LogitsProcessorFactory> compile(const ConstraintSpec& spec) const;

private:
    GrammarCompiler() = default;
    const LlgApi* api_ = nullptr;
    LlgTokenizer* tokenizer_ = nullptr;
    std::shared_ptr<const Tokenizer> tok_;
    int64_t vocab_size_ = 0;
    std::vector<int32_t> eos_ids_;
    std::vector<uint32_t> token_lens_;
    std::string token_bytes_;
};

}  // namespace kite::structured
