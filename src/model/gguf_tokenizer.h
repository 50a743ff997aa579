// Tokenizers of GGUF models: the `tokenizer.ggml.*` metadata is turned into the tokenizer.json (and
// tokenizer_config.json fields) that Hugging Face ships for that model, and handed to
// Tokenizer::from_json, so a .gguf file tokenizes exactly like its model's tokenizer.json would.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace kite {

// What a model folder would hold: tokenizer.json and the tokenizer_config.json fields kite reads
// (bos_token, eos_token, unk_token, pad_token, add_bos_token, add_eos_token, chat_template).
struct GgufTokenizerFiles {
    nlohmann::json tokenizer;
    nlohmann::json config;
};

// Conversion only (no tokenizer built): one clear error for a missing or inconsistent key.
// Supports tokenizer.ggml.model "llama" (SentencePiece BPE), "gpt2" (byte-level BPE, with the
// pre-tokenizer named by tokenizer.ggml.pre), "bert" (WordPiece) and "t5" (Unigram).
Result<GgufTokenizerFiles> gguf_tokenizer_files(const GgufFile& gguf);

Result<std::shared_ptr<Tokenizer>> tokenizer_from_gguf(const GgufFile& gguf);
Result<std::shared_ptr<Tokenizer>> load_gguf_tokenizer(const std::string& gguf_path);

// What `--model` may name: a .gguf file, a tokenizer.json file, or a model folder (which holds a
// tokenizer.json, or else exactly one .gguf file). The CLI and the server call this.
Result<std::shared_ptr<Tokenizer>> load_model_tokenizer(const std::string& path);

namespace gguf_tok {

// The normalizer/pre-tokenizer of a byte-level BPE model named by tokenizer.ggml.pre, and the
// defaults llama.cpp applies to that name when the GGUF lacks the keys (add_bos, ignore_merges).
struct BpePreTokenization {
    nlohmann::json normalizer;     // null when the model has none
    nlohmann::json pre_tokenizer;
    bool add_bos = false;
    bool add_sep = false;  // RoBERTa-style "<s> A </s>"
    bool ignore_merges = false;
};
Result<BpePreTokenization> bpe_pre_tokenization(std::string_view pre_name);  // "" = "default"
std::vector<std::string_view> known_bpe_pre_names();

// SentencePiece BPE merges rebuilt from pieces and scores as HF's converter does: every split of a
// piece into two pieces of the vocabulary, ordered by the merged piece's score (highest first),
// ties kept in vocabulary order. `eligible[i]` false leaves token i out (added tokens). "l r" form.
std::vector<std::string> spm_merges(const std::vector<std::string>& pieces, const std::vector<double>& scores,
                                    const std::vector<bool>& eligible);

}  // namespace gguf_tok
}  // namespace kite
