// Text <-> token ids exactly as Hugging Face `tokenizers` does, from a tokenizer.json (or the same
// JSON built from GGUF metadata), plus what tokenizer_config.json adds (special tokens, chat template).
// Thread-safe after construction: encode/decode are const.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace kite {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // tokenizer.json as a file or as parsed JSON; `config` is tokenizer_config.json (may be null).
    static Result<std::shared_ptr<Tokenizer>> from_file(const std::string& tokenizer_json_path);
    static Result<std::shared_ptr<Tokenizer>> from_json(const nlohmann::json& tokenizer_json,
                                                        const nlohmann::json* tokenizer_config = nullptr);
    // A model folder: tokenizer.json + tokenizer_config.json (+ special_tokens_map.json).
    static Result<std::shared_ptr<Tokenizer>> from_model_dir(const std::string& dir);

    // Invalid UTF-8 input is an error, not a crash.
    virtual Result<std::vector<int32_t>> encode(std::string_view text, bool add_special_tokens) const = 0;
    // Ids out of range are an error.
    virtual Result<std::string> decode(std::span<const int32_t> ids, bool skip_special_tokens) const = 0;

    virtual int64_t vocab_size() const = 0;  // including added tokens
    virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
    virtual std::string id_to_token(int32_t id) const = 0;  // "" when out of range
    virtual bool is_special(int32_t id) const = 0;

    // From tokenizer_config.json (or GGUF metadata); empty / -1 when absent.
    virtual const std::string& chat_template() const = 0;
    virtual const std::string& bos_token() const = 0;
    virtual const std::string& eos_token() const = 0;
    virtual int32_t bos_token_id() const = 0;
    virtual int32_t eos_token_id() const = 0;
};

// Streaming detokenization for one sequence: feed ids one at a time, get only the text that is
// final (complete UTF-8, leading-space rules applied); the concatenation of all step() results plus
// flush() equals tokenizer.decode(all ids). `prefix_ids` (e.g. the prompt) give context for decoders
// whose output depends on what precedes (Metaspace's leading space) and are not emitted.
class IncrementalDecoder {
public:
    IncrementalDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens,
                       std::vector<int32_t> prefix_ids = {});
    std::string step(int32_t id);
    std::string flush();

private:
    std::shared_ptr<const Tokenizer> tok_;
    bool skip_special_;
    std::vector<int32_t> ids_;
    size_t prefix_offset_ = 0;  // ids_[prefix_offset_, read_offset_) were decoded as context
    size_t read_offset_ = 0;
};

// A tokenizer from a model folder or a tokenizer.json file (its folder's tokenizer_config.json is
// read too); any other path is an "unsupported" error. The GGUF loader extends it for .gguf files.
Result<std::shared_ptr<Tokenizer>> load_tokenizer_any(const std::string& path);

}  // namespace kite
