// tokenizer.ggml.* metadata -> tokenizer.json + tokenizer_config fields, per tokenizer model:
// "llama" (SentencePiece BPE with byte fallback), "gpt2" (byte-level BPE), "bert" (WordPiece) and
// "t5" (Unigram). The JSON mirrors what Hugging Face's converters write for those models.
#include "model/gguf_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kite {
namespace {

using json = nlohmann::json;

// llama.cpp's token types (tokenizer.ggml.token_type).
enum TokenType : int64_t {
    kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3, kTypeUserDefined = 4, kTypeUnused = 5,
    kTypeByte = 6,
};

struct Vocab {
    std::vector<std::string> tokens;
    std::vector<double> scores;  // empty when the file has none
    std::vector<int64_t> types;  // one per token; kTypeNormal when the file has none
};

struct SpecialIds {
    std::optional<int32_t> bos, eos, unk, sep, pad, cls, mask;
};

std::string file_name(const GgufFile& g) { return g.path().empty() ? std::string("GGUF") : g.path(); }

Result<std::optional<int64_t>> optional_int(const GgufFile& g, const std::string& key) {
    if (!g.has(key)) return std::optional<int64_t>();
    KITE_ASSIGN_OR_RETURN(int64_t v, g.get_int(key));
    return std::optional<int64_t>(v);
}

Result<std::optional<bool>> optional_bool(const GgufFile& g, const std::string& key) {
    if (!g.has(key)) return std::optional<bool>();
    KITE_ASSIGN_OR_RETURN(bool v, g.get_bool(key));
    return std::optional<bool>(v);
}

Result<Vocab> read_vocab(const GgufFile& g) {
    Vocab v;
    KITE_ASSIGN_OR_RETURN(const std::vector<std::string>* tokens, g.get_strings("tokenizer.ggml.tokens"));
    if (tokens->empty()) return invalid_argument(file_name(g) + ": tokenizer.ggml.tokens is empty");
    if (tokens->size() > static_cast<size_t>(INT32_MAX))
        return invalid_argument(file_name(g) + ": tokenizer.ggml.tokens has more than 2^31 entries");
    v.tokens = *tokens;
    // An empty token cannot be a vocabulary key; llama.cpp gives it a placeholder name too.
    for (size_t i = 0; i < v.tokens.size(); ++i)
        if (v.tokens[i].empty()) v.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
    if (g.has("tokenizer.ggml.scores")) {
        KITE_ASSIGN_OR_RETURN(const std::vector<double>* scores, g.get_floats("tokenizer.ggml.scores"));
        if (scores->size() != v.tokens.size())
            return invalid_argument(file_name(g) + ": tokenizer.ggml.scores has " + std::to_string(scores->size()) +
                                    " entries, expected one per token (" + std::to_string(v.tokens.size()) + ")");
        v.scores = *scores;
    }
    if (g.has("tokenizer.ggml.token_type")) {
        KITE_ASSIGN_OR_RETURN(const std::vector<int64_t>* types, g.get_ints("tokenizer.ggml.token_type"));
        if (types->size() != v.tokens.size())
            return invalid_argument(file_name(g) + ": tokenizer.ggml.token_type has " +
                                    std::to_string(types->size()) + " entries, expected one per token (" +
                                    std::to_string(v.tokens.size()) + ")");
        v.types = *types;
    } else {
        v.types.assign(v.tokens.size(), kTypeNormal);
    }
    return v;
}

Result<SpecialIds> read_special_ids(const GgufFile& g, size_t n_tokens) {
    SpecialIds s;
    const std::pair<const char*, std::optional<int32_t>*> keys[] = {
        {"tokenizer.ggml.bos_token_id", &s.bos},     {"tokenizer.ggml.eos_token_id", &s.eos},
        {"tokenizer.ggml.unknown_token_id", &s.unk}, {"tokenizer.ggml.seperator_token_id", &s.sep},
        {"tokenizer.ggml.padding_token_id", &s.pad}, {"tokenizer.ggml.cls_token_id", &s.cls},
        {"tokenizer.ggml.mask_token_id", &s.mask},
    };
    for (const auto& [key, slot] : keys) {
        KITE_ASSIGN_OR_RETURN(std::optional<int64_t> id, optional_int(g, key));
        if (!id) continue;
        // Converters write -1 (as a wrapped u32) for "none".
        if (*id == -1 || *id == 0xFFFFFFFFll) continue;
        if (*id < 0 || *id >= static_cast<int64_t>(n_tokens))
            return invalid_argument(file_name(g) + ": " + key + " = " + std::to_string(*id) +
                                    " is outside the vocabulary (0.." + std::to_string(n_tokens - 1) + ")");
        *slot = static_cast<int32_t>(*id);
    }
    return s;
}

// Converters pad a vocabulary up to the embedding size with "[PAD<id>]" entries; they are neither
// real tokens nor added tokens in the model's tokenizer.json.
bool is_placeholder(const std::string& text, size_t id) { return text == "[PAD" + std::to_string(id) + "]"; }

// Control, unknown and user-defined tokens are what tokenizer.json lists as added tokens (matched
// in the text before the model runs); user-defined ones are not special (decode keeps them).
// `normalized`: ids of special tokens matched in the normalized text rather than as written.
json added_tokens(const Vocab& v, const std::vector<int32_t>& normalized = {}) {
    json out = json::array();
    for (size_t i = 0; i < v.tokens.size(); ++i) {
        int64_t t = v.types[i];
        if (t != kTypeControl && t != kTypeUnknown && t != kTypeUserDefined) continue;
        if (is_placeholder(v.tokens[i], i)) continue;
        bool special = t != kTypeUserDefined;
        out.push_back({{"id", static_cast<uint64_t>(i)},
                       {"content", v.tokens[i]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", special && std::find(normalized.begin(), normalized.end(),
                                                           static_cast<int32_t>(i)) != normalized.end()},
                       {"special", special}});
    }
    return out;
}

// Non-negative numbers are stored unsigned throughout, as json::parse stores them, so the
// tokenizer reads this JSON exactly as it reads a tokenizer.json file.
json vocab_object(const std::vector<std::string>& tokens) {
    json vocab = json::object();
    for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = static_cast<uint64_t>(i);
    return vocab;
}

// TemplateProcessing that adds `bos` before and `eos` after each sequence (`bert_pair`: BERT's
// "[CLS] A [SEP] B [SEP]", with no [CLS] before B).
json template_processor(const Vocab& v, std::optional<int32_t> bos, std::optional<int32_t> eos, bool bert_pair) {
    auto special = [&](int32_t id, int type_id) {
        return json{{"SpecialToken", {{"id", v.tokens[id]}, {"type_id", static_cast<uint64_t>(type_id)}}}};
    };
    auto seq = [](const char* name, int type_id) { return json{{"Sequence", {{"id", name}, {"type_id", static_cast<uint64_t>(type_id)}}}}; };
    json single = json::array(), pair = json::array(), specials = json::object();
    for (int part = 0; part < 2; ++part) {
        if (bos && !(bert_pair && part == 1)) {
            if (part == 0) single.push_back(special(*bos, 0));
            pair.push_back(special(*bos, part));
        }
        if (part == 0) single.push_back(seq("A", 0));
        pair.push_back(seq(part == 0 ? "A" : "B", part));
        if (eos) {
            if (part == 0) single.push_back(special(*eos, 0));
            pair.push_back(special(*eos, part));
        }
    }
    for (std::optional<int32_t> id : {bos, eos}) {
        if (!id) continue;
        const std::string& text = v.tokens[*id];
        specials[text] = {{"id", text}, {"ids", {static_cast<uint64_t>(*id)}}, {"tokens", {text}}};
    }
    return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

json byte_level_processor() {
    return {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
}

json bpe_model(json vocab, json merges, json unk, bool byte_fallback, bool ignore_merges) {
    return {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", std::move(unk)},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", byte_fallback},
            {"byte_fallback", byte_fallback},
            {"ignore_merges", ignore_merges},
            {"vocab", std::move(vocab)},
            {"merges", std::move(merges)}};
}

// What encode(add_special_tokens=true) adds: BOS in front; SEP (BERT, RoBERTa) or else EOS behind.
struct Flags {
    bool add_bos = false;
    bool add_eos = false;
    bool add_sep = false;
};

Result<Flags> read_flags(const GgufFile& g, Flags defaults) {
    KITE_ASSIGN_OR_RETURN(std::optional<bool> bos, optional_bool(g, "tokenizer.ggml.add_bos_token"));
    KITE_ASSIGN_OR_RETURN(std::optional<bool> eos, optional_bool(g, "tokenizer.ggml.add_eos_token"));
    KITE_ASSIGN_OR_RETURN(std::optional<bool> sep, optional_bool(g, "tokenizer.ggml.add_sep_token"));
    Flags f = defaults;
    if (bos) f.add_bos = *bos;
    if (eos) f.add_eos = *eos;
    if (sep) f.add_sep = *sep;
    return f;
}

Status require_id(const GgufFile& g, bool wanted, const std::optional<int32_t>& id, const char* flag,
                  const char* key) {
    if (wanted && !id)
        return invalid_argument(file_name(g) + ": tokenizer.ggml." + flag + " is set but tokenizer.ggml." + key +
                                " is missing");
    return Status::ok();
}

// Checks the ids the flags need; returns the token to add in front and the one to add behind.
Result<std::pair<std::optional<int32_t>, std::optional<int32_t>>> framing(const GgufFile& g, const Flags& f,
                                                                          const SpecialIds& ids) {
    KITE_RETURN_IF_ERROR(require_id(g, f.add_bos, ids.bos, "add_bos_token", "bos_token_id"));
    KITE_RETURN_IF_ERROR(require_id(g, f.add_eos && !f.add_sep, ids.eos, "add_eos_token", "eos_token_id"));
    // RoBERTa-style files may name no separator: theirs is the EOS token </s>.
    const std::optional<int32_t> sep = ids.sep ? ids.sep : ids.eos;
    KITE_RETURN_IF_ERROR(require_id(g, f.add_sep, sep, "add_sep_token", "seperator_token_id"));
    std::optional<int32_t> front = f.add_bos ? ids.bos : std::nullopt;
    std::optional<int32_t> back = f.add_sep ? sep : f.add_eos ? ids.eos : std::nullopt;
    return std::make_pair(front, back);
}

// "llama": SentencePiece BPE. HF's LlamaConverter gives byte-fallback BPE with merges rebuilt from
// the scores, a normalizer that turns spaces into "▁" (and prepends one unless add_space_prefix is
// false), and the reverse chain in the decoder.
Result<json> spm_tokenizer(const GgufFile& g, const Vocab& v, SpecialIds& ids, Flags& flags) {
    if (v.scores.empty()) return invalid_argument(file_name(g) + ": tokenizer.ggml.model 'llama' needs tokenizer.ggml.scores");
    // llama.cpp's defaults for SentencePiece files that name no special ids.
    auto fallback = [&](std::optional<int32_t>& slot, int32_t id) {
        if (!slot && id < static_cast<int32_t>(v.tokens.size())) slot = id;
    };
    if (!g.has("tokenizer.ggml.bos_token_id")) fallback(ids.bos, 1);
    if (!g.has("tokenizer.ggml.eos_token_id")) fallback(ids.eos, 2);
    if (!g.has("tokenizer.ggml.unknown_token_id")) fallback(ids.unk, 0);
    KITE_ASSIGN_OR_RETURN(flags, read_flags(g, Flags{true, false, false}));
    KITE_ASSIGN_OR_RETURN(std::optional<bool> space_prefix, optional_bool(g, "tokenizer.ggml.add_space_prefix"));
    bool add_prefix = space_prefix.value_or(true);

    // The SentencePiece model's own pieces end with its last normal or byte piece; tokens after it
    // were appended from added_tokens.json (chat markers such as Phi-3's <|end|>).
    size_t sp_end = 0;
    for (size_t i = 0; i < v.tokens.size(); ++i)
        if (v.types[i] == kTypeNormal || v.types[i] == kTypeByte) sp_end = i + 1;
    // HF's converter builds merges over every piece of the SentencePiece model, user-defined and
    // control ones included (Gemma's whitespace runs are user-defined and merged from "▁" pieces).
    std::vector<bool> eligible(v.tokens.size());
    for (size_t i = 0; i < v.tokens.size(); ++i) eligible[i] = i < sp_end && !is_placeholder(v.tokens[i], i);
    json merges = json::array();
    for (std::string& m : gguf_tok::spm_merges(v.tokens, v.scores, eligible)) merges.push_back(std::move(m));

    json j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    // Llama-2's tokenizer.json marks the SentencePiece model's own <unk>, <s>, </s> "normalized":
    // they are matched in the text after "▁" replaced the spaces, so " </s>" is one token and
    // "x</s>" is not. Every other added token is matched as written.
    std::vector<int32_t> normalized;
    for (std::optional<int32_t> id : {ids.unk, ids.bos, ids.eos})
        if (id && static_cast<size_t>(*id) < sp_end) normalized.push_back(*id);
    j["added_tokens"] = added_tokens(v, normalized);
    json norm = json::array();
    if (add_prefix) norm.push_back({{"type", "Prepend"}, {"prepend", "\u2581"}});
    norm.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}});
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", norm}};
    j["pre_tokenizer"] = nullptr;
    KITE_ASSIGN_OR_RETURN(auto frame, framing(g, flags, ids));
    j["post_processor"] = (frame.first || frame.second) ? template_processor(v, frame.first, frame.second, false)
                                                        : json(nullptr);
    json dec = json::array({json{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                            json{{"type", "ByteFallback"}}, json{{"type", "Fuse"}}});
    if (add_prefix) dec.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1u}, {"stop", 0u}});
    j["decoder"] = {{"type", "Sequence"}, {"decoders", dec}};
    json unk = ids.unk ? json(v.tokens[*ids.unk]) : json(nullptr);
    j["model"] = bpe_model(vocab_object(v.tokens), std::move(merges), std::move(unk), true, false);
    return j;
}

// "gpt2": byte-level BPE; the merges are stored, the pre-tokenization is named by tokenizer.ggml.pre.
Result<json> bpe_tokenizer(const GgufFile& g, const Vocab& v, const SpecialIds& ids, Flags& flags) {
    KITE_ASSIGN_OR_RETURN(const std::vector<std::string>* merges, g.get_strings("tokenizer.ggml.merges"));
    std::string pre;
    if (g.has("tokenizer.ggml.pre")) {
        KITE_ASSIGN_OR_RETURN(pre, g.get_string("tokenizer.ggml.pre"));
    }
    auto spec_or = gguf_tok::bpe_pre_tokenization(pre);
    if (!spec_or.ok()) return Status(spec_or.status().code(), file_name(g) + ": " + spec_or.status().message());
    gguf_tok::BpePreTokenization spec = std::move(spec_or).value();
    KITE_ASSIGN_OR_RETURN(flags, read_flags(g, Flags{spec.add_bos, false, spec.add_sep}));
    KITE_ASSIGN_OR_RETURN(auto frame, framing(g, flags, ids));
    for (size_t i = 0; i < merges->size(); ++i) {
        const std::string& m = (*merges)[i];
        size_t sp = m.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 == m.size() || m.find(' ', sp + 1) != std::string::npos)
            return invalid_argument(file_name(g) + ": tokenizer.ggml.merges[" + std::to_string(i) + "] = '" + m +
                                    "' is not two tokens separated by one space");
    }

    json j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = added_tokens(v);
    j["normalizer"] = spec.normalizer;
    j["pre_tokenizer"] = spec.pre_tokenizer;
    if (frame.first || frame.second) {
        j["post_processor"] = {{"type", "Sequence"},
                               {"processors", {byte_level_processor(),
                                               template_processor(v, frame.first, frame.second, false)}}};
    } else {
        j["post_processor"] = byte_level_processor();
    }
    j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
    j["model"] = bpe_model(vocab_object(v.tokens), json(*merges), nullptr, false, spec.ignore_merges);
    return j;
}

// "bert": WordPiece. The converter stores "##x" as "x" and a word-initial "x" as "▁x" (bracketed
// names such as "[CLS]" unchanged); this undoes it. llama.cpp always lowercases and strips accents
// for these models, which is BertNormalizer with lowercase=true.
Result<json> wpm_tokenizer(const GgufFile& g, const Vocab& v, SpecialIds& ids, Flags& flags) {
    if (!ids.bos && ids.cls) ids.bos = ids.cls;
    if (!ids.sep && ids.eos) ids.sep = ids.eos;
    KITE_ASSIGN_OR_RETURN(flags, read_flags(g, Flags{true, false, true}));
    KITE_ASSIGN_OR_RETURN(auto frame, framing(g, flags, ids));
    if (!ids.unk) return invalid_argument(file_name(g) + ": tokenizer.ggml.model 'bert' needs tokenizer.ggml.unknown_token_id");
    static const std::string kSpace = "\u2581";
    Vocab word_vocab = v;
    for (size_t i = 0; i < v.tokens.size(); ++i) {
        const std::string& t = v.tokens[i];
        if (t.size() > kSpace.size() && t.compare(0, kSpace.size(), kSpace) == 0) {
            word_vocab.tokens[i] = t.substr(kSpace.size());
        } else if (!(t.size() >= 2 && t.front() == '[' && t.back() == ']') && v.types[i] == kTypeNormal) {
            word_vocab.tokens[i] = "##" + t;
        }
    }
    json j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = added_tokens(word_vocab);
    j["normalizer"] = {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                       {"strip_accents", nullptr}, {"lowercase", true}};
    j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
    j["post_processor"] = (frame.first || frame.second) ? template_processor(word_vocab, frame.first, frame.second, true)
                                                        : json(nullptr);
    j["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
    j["model"] = {{"type", "WordPiece"},
                  {"unk_token", word_vocab.tokens[*ids.unk]},
                  {"continuing_subword_prefix", "##"},
                  {"max_input_chars_per_word", 100u},
                  {"vocab", vocab_object(word_vocab.tokens)}};
    return j;
}

std::string base64(const std::vector<int64_t>& bytes) {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        uint32_t n = (uint32_t(bytes[i] & 0xFF) << 16) | (uint32_t(bytes[i + 1] & 0xFF) << 8) | uint32_t(bytes[i + 2] & 0xFF);
        for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
    }
    if (i < bytes.size()) {
        uint32_t n = uint32_t(bytes[i] & 0xFF) << 16;
        if (i + 1 < bytes.size()) n |= uint32_t(bytes[i + 1] & 0xFF) << 8;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += (i + 1 < bytes.size()) ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// "t5": Unigram over the scored pieces, SentencePiece's compiled normalization rules (when the file
// carries them), whitespace split + Metaspace, and "</s>" appended as T5's tokenizer.json does.
Result<json> ugm_tokenizer(const GgufFile& g, const Vocab& v, SpecialIds& ids, Flags& flags) {
    if (v.scores.empty()) return invalid_argument(file_name(g) + ": tokenizer.ggml.model 't5' needs tokenizer.ggml.scores");
    KITE_ASSIGN_OR_RETURN(flags, read_flags(g, Flags{false, true, false}));
    KITE_ASSIGN_OR_RETURN(auto frame, framing(g, flags, ids));
    KITE_ASSIGN_OR_RETURN(std::optional<bool> space_prefix, optional_bool(g, "tokenizer.ggml.add_space_prefix"));
    json vocab = json::array();
    for (size_t i = 0; i < v.tokens.size(); ++i) vocab.push_back(json::array({v.tokens[i], v.scores[i]}));
    json j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = added_tokens(v);
    j["normalizer"] = nullptr;
    if (g.has("tokenizer.ggml.precompiled_charsmap")) {
        KITE_ASSIGN_OR_RETURN(const std::vector<int64_t>* map, g.get_ints("tokenizer.ggml.precompiled_charsmap"));
        if (!map->empty()) j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", base64(*map)}};
    }
    const char* scheme = space_prefix.value_or(true) ? "always" : "never";
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", {json{{"type", "WhitespaceSplit"}},
                                             json{{"type", "Metaspace"}, {"replacement", "\u2581"},
                                                  {"prepend_scheme", scheme}, {"split", true}}}}};
    j["post_processor"] = (frame.first || frame.second) ? template_processor(v, frame.first, frame.second, false)
                                                        : json(nullptr);
    j["decoder"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}, {"split", true}};
    j["model"] = {{"type", "Unigram"}, {"unk_id", ids.unk ? json(static_cast<uint64_t>(*ids.unk)) : json(nullptr)},
                  {"vocab", std::move(vocab)}, {"byte_fallback", false}};
    return j;
}

std::string lowercase_string(const GgufFile& g, const char* key) {
    auto v = g.get_string(key);
    if (!v.ok()) return "";
    std::string s = *v;
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Added-token flags GGUF does not store but the models' tokenizer.json files set. llama.cpp keys
// them on the model's name and pre-tokenizer; kite follows the same keys: Phi-3's chat markers
// swallow the whitespace after them (rstrip), and some encoders' mask tokens the space before.
void apply_flags_by_name(const GgufFile& g, json& added) {
    const std::string name = lowercase_string(g, "general.name");
    const std::string pre = lowercase_string(g, "tokenizer.ggml.pre");
    const std::string arch = lowercase_string(g, "general.architecture");
    auto contains = [](const std::string& s, const char* what) { return s.find(what) != std::string::npos; };
    if (contains(pre, "jina-v2-de") || contains(pre, "jina-v2-es") || contains(pre, "jina-v2-code") ||
        contains(arch, "nomic-bert-moe") || contains(arch, "jina-bert-v3")) {
        for (json& a : added)
            if (a["content"] == "<mask>") a["lstrip"] = true;
    } else if (contains(name, "phi-3") || contains(name, "phi3")) {
        for (json& a : added) {
            const std::string& c = a["content"].get_ref<const std::string&>();
            a["rstrip"] = c != "<unk>" && c != "<s>" && c != "<|endoftext|>";
            a["normalized"] = false;
        }
    } else if (contains(name, "modern-bert")) {
        for (json& a : added)
            if (a["content"] == "[MASK]") a["lstrip"] = true;
    }
}

}  // namespace

Result<GgufTokenizerFiles> gguf_tokenizer_files(const GgufFile& g) {
    if (!g.has("tokenizer.ggml.model"))
        return not_found(file_name(g) + ": no tokenizer.ggml.model key (the file carries no tokenizer)");
    KITE_ASSIGN_OR_RETURN(std::string model, g.get_string("tokenizer.ggml.model"));
    KITE_ASSIGN_OR_RETURN(Vocab v, read_vocab(g));
    KITE_ASSIGN_OR_RETURN(SpecialIds ids, read_special_ids(g, v.tokens.size()));
    if (!g.has("tokenizer.ggml.token_type")) {
        // Without types, the named special ids are the only tokens known to be special.
        for (std::optional<int32_t> id : {ids.bos, ids.eos, ids.sep, ids.pad, ids.cls, ids.mask})
            if (id) v.types[*id] = kTypeControl;
        if (ids.unk) v.types[*ids.unk] = kTypeUnknown;
    }
    Flags flags;
    GgufTokenizerFiles out;
    if (model == "llama") {
        KITE_ASSIGN_OR_RETURN(out.tokenizer, spm_tokenizer(g, v, ids, flags));
    } else if (model == "gpt2") {
        KITE_ASSIGN_OR_RETURN(out.tokenizer, bpe_tokenizer(g, v, ids, flags));
    } else if (model == "bert") {
        KITE_ASSIGN_OR_RETURN(out.tokenizer, wpm_tokenizer(g, v, ids, flags));
    } else if (model == "t5") {
        KITE_ASSIGN_OR_RETURN(out.tokenizer, ugm_tokenizer(g, v, ids, flags));
    } else {
        return unimplemented(file_name(g) + ": tokenizer.ggml.model '" + model +
                             "' is not supported; expected llama, gpt2, bert or t5");
    }
    apply_flags_by_name(g, out.tokenizer["added_tokens"]);
    json& c = out.config;
    c = json::object();
    // The WordPiece conversion may rename tokens: read names back from the built vocabulary.
    auto name = [&](int32_t id) -> std::string {
        for (const json& a : out.tokenizer["added_tokens"])
            if (a["id"].get<int64_t>() == id) return a["content"].get<std::string>();
        return v.tokens[id];
    };
    if (ids.bos) c["bos_token"] = name(*ids.bos);
    if (ids.eos) c["eos_token"] = name(*ids.eos);
    if (ids.unk) c["unk_token"] = name(*ids.unk);
    if (ids.pad) c["pad_token"] = name(*ids.pad);
    if (ids.sep) c["sep_token"] = name(*ids.sep);
    if (ids.cls) c["cls_token"] = name(*ids.cls);
    if (ids.mask) c["mask_token"] = name(*ids.mask);
    c["add_bos_token"] = flags.add_bos;
    c["add_eos_token"] = flags.add_eos;
    if (g.has("tokenizer.chat_template")) {
        KITE_ASSIGN_OR_RETURN(std::string tmpl, g.get_string("tokenizer.chat_template"));
        c["chat_template"] = std::move(tmpl);
    }
    return out;
}

}  // namespace kite
