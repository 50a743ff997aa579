// GGUF `tokenizer.ggml.pre` names -> the normalizer and pre-tokenizer that the model's own Hugging
// Face tokenizer.json declares. The names are llama.cpp's (convert_hf_to_gguf.py assigns them by
// hashing the HF tokenizer's output); the JSON below is what HF ships for those models, so a GGUF
// model tokenizes exactly as its tokenizer.json would.
#include <array>
#include <string>
#include <string_view>

#include "model/gguf_tokenizer.h"

namespace kite::gguf_tok {
namespace {

using json = nlohmann::json;

// The regexes are the models' own (their tokenizer.json Split patterns, Oniguruma syntax, which
// kite's PCRE2-based Split accepts unchanged).
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: Llama 3's pattern with one digit per piece.
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen3.5: combining marks stay with their letters.
constexpr std::string_view kQwen35Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Mistral's Tekken (Mistral Nemo, Pixtral-era models).
constexpr std::string_view kTekkenRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// OpenAI o200k (GPT-4o), also Llama 4.
constexpr std::string_view kO200kRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kSeedCoderRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kBailingRegex =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
// BLOOM and its descendants: everything up to whitespace or sentence punctuation.
constexpr std::string_view kBloomRegex = R"( ?[^(\s|[.,!?…。，、।۔،])]+)";
// DeepSeek LLM: letters of the scripts it was trained on, ASCII/fullwidth punctuation, CJK runs.
// Six code points are escaped: as literals, Unicode normalization (editors, tools) would fold them
// into others and break their ranges.
constexpr std::string_view kDeepseekLlmLetters =
    R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\x{1F7D}ᾀ-ᾴᾶ-ᾼ\x{1FBE}ῂ-ῄῆ-ῌῐ-\x{1FD3}ῖ-\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\x{2126}ℨ\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)";
constexpr std::string_view kDeepseekLlmPunct = R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)";
constexpr std::string_view kDeepseekCjk = R"([一-龥ࠀ-一가-퟿]+)";
// DeepSeek V3 / R1.
constexpr std::string_view kDeepseekV3Kana = R"([一-龥぀-ゟ゠-ヿ]+)";
constexpr std::string_view kDeepseekV3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json split(std::string_view regex) {
    return {{"type", "Split"},
            {"pattern", {{"Regex", std::string(regex)}}},
            {"behavior", "Isolated"},
            {"invert", false}};
}
// ByteLevel with use_regex=true applies GPT-2's own pattern before the byte mapping.
json byte_level(bool use_regex, bool trim_offsets = true) {
    return {{"type", "ByteLevel"},
            {"add_prefix_space", false},
            {"trim_offsets", trim_offsets},
            {"use_regex", use_regex}};
}
json digits(bool individual) { return {{"type", "Digits"}, {"individual_digits", individual}}; }
json sequence(json items) { return {{"type", "Sequence"}, {"pretokenizers", std::move(items)}}; }
json nfc() { return {{"type", "NFC"}}; }

enum class PreFamily {
    kGpt2, kRoberta, kNeox, kLlama3, kLlama3NoBos, kQwen2, kQwen35, kStableLm2, kDeepseekLlm, kDeepseekCoder,
    kDeepseekV3, kFalcon, kStarcoder, kCommandR, kBloom, kViking, kTekken, kO200k, kSeedCoder,
    kBailing,
};

struct PreName {
    std::string_view name;
    PreFamily family;
};

// Every name llama.cpp's converter writes for these families. "default" (and a missing key, as in
// GGUFs made before the key existed) means GPT-2's byte-level pre-tokenizer, which is what the
// Hugging Face tokenizers of those older models (GPT-2, GPT-J, GPT-NeoX) declare.
constexpr std::array kPreNames = {
    PreName{"default", PreFamily::kGpt2},        PreName{"gpt-2", PreFamily::kGpt2},
    PreName{"phi-2", PreFamily::kGpt2},          PreName{"jina-es", PreFamily::kGpt2},
    PreName{"jina-de", PreFamily::kGpt2},        PreName{"gigachat", PreFamily::kGpt2},
    PreName{"jina-v1-en", PreFamily::kRoberta},     PreName{"jina-v2-es", PreFamily::kGpt2},
    PreName{"jina-v2-de", PreFamily::kGpt2},     PreName{"jina-v2-code", PreFamily::kRoberta},
    PreName{"roberta-bpe", PreFamily::kRoberta},    PreName{"a.x-4.0", PreFamily::kGpt2},
    PreName{"mellum", PreFamily::kGpt2},         PreName{"exaone4", PreFamily::kGpt2},
    PreName{"jais", PreFamily::kGpt2},           PreName{"trillion", PreFamily::kGpt2},
    PreName{"granite-docling", PreFamily::kGpt2},
    PreName{"mpt", PreFamily::kNeox},            PreName{"olmo", PreFamily::kNeox},
    PreName{"llama3", PreFamily::kLlama3},       PreName{"llama-v3", PreFamily::kLlama3},
    PreName{"llama-bpe", PreFamily::kLlama3},    PreName{"falcon3", PreFamily::kLlama3},
    PreName{"falcon-h1", PreFamily::kLlama3},    PreName{"midm-2.0", PreFamily::kLlama3},
    PreName{"lfm2", PreFamily::kLlama3},
    PreName{"dbrx", PreFamily::kLlama3NoBos},    PreName{"smaug-bpe", PreFamily::kLlama3NoBos},
    PreName{"chatglm-bpe", PreFamily::kLlama3NoBos}, PreName{"glm4", PreFamily::kLlama3NoBos},
    PreName{"qwen2", PreFamily::kQwen2},         PreName{"deepseek-r1-qwen", PreFamily::kQwen2},
    PreName{"kormo", PreFamily::kQwen2},         PreName{"megrez", PreFamily::kQwen2},
    PreName{"qwen35", PreFamily::kQwen35},
    PreName{"stablelm2", PreFamily::kStableLm2}, PreName{"hunyuan", PreFamily::kStableLm2},
    PreName{"grok-2", PreFamily::kStableLm2},
    PreName{"deepseek-llm", PreFamily::kDeepseekLlm},
    PreName{"deepseek-coder", PreFamily::kDeepseekCoder},
    PreName{"deepseek-v3", PreFamily::kDeepseekV3}, PreName{"hunyuan-dense", PreFamily::kDeepseekV3},
    PreName{"falcon", PreFamily::kFalcon},
    PreName{"starcoder", PreFamily::kStarcoder}, PreName{"refact", PreFamily::kStarcoder},
    PreName{"smollm", PreFamily::kStarcoder},    PreName{"codeshell", PreFamily::kStarcoder},
    PreName{"exaone", PreFamily::kStarcoder},    PreName{"minerva-7b", PreFamily::kStarcoder},
    PreName{"command-r", PreFamily::kCommandR},
    PreName{"bloom", PreFamily::kBloom},         PreName{"poro-chat", PreFamily::kBloom},
    PreName{"gpt3-finnish", PreFamily::kBloom},  PreName{"viking", PreFamily::kViking},
    PreName{"tekken", PreFamily::kTekken},
    PreName{"gpt-4o", PreFamily::kO200k},        PreName{"llama4", PreFamily::kO200k},
    PreName{"seed-coder", PreFamily::kSeedCoder},
    PreName{"bailingmoe", PreFamily::kBailing},  PreName{"bailingmoe2", PreFamily::kBailing},
    PreName{"llada-moe", PreFamily::kBailing},
};

BpePreTokenization build(PreFamily family) {
    BpePreTokenization p;
    switch (family) {
        case PreFamily::kGpt2:
            p.pre_tokenizer = byte_level(true);
            break;
        case PreFamily::kRoberta:  // llama.cpp closes these encoders' input with the separator
            p.pre_tokenizer = byte_level(true);
            p.add_sep = true;
            break;
        case PreFamily::kNeox:  // GPT-NeoX-20B's tokenizer (MPT, OLMo) normalizes to NFC first
            p.normalizer = nfc();
            p.pre_tokenizer = byte_level(true);
            break;
        case PreFamily::kLlama3:
            p.pre_tokenizer = sequence({split(kLlama3Regex), byte_level(false)});
            p.add_bos = true;
            p.ignore_merges = true;
            break;
        case PreFamily::kLlama3NoBos:
            p.pre_tokenizer = sequence({split(kLlama3Regex), byte_level(false)});
            break;
        case PreFamily::kQwen2:
            p.normalizer = nfc();
            p.pre_tokenizer = sequence({split(kQwen2Regex), byte_level(false, false)});
            break;
        case PreFamily::kQwen35:
            p.normalizer = nfc();
            p.pre_tokenizer = sequence({split(kQwen35Regex), byte_level(false, false)});
            break;
        case PreFamily::kStableLm2:
            p.pre_tokenizer = sequence({split(kQwen2Regex), byte_level(false)});
            break;
        case PreFamily::kDeepseekLlm:
            p.pre_tokenizer = sequence({split(R"([\r\n])"), split(kDeepseekLlmLetters),
                                        split(kDeepseekLlmPunct), split(R"(\s+$)"), split(kDeepseekCjk),
                                        digits(true), byte_level(false)});
            break;
        case PreFamily::kDeepseekCoder:
            p.pre_tokenizer = sequence({split(R"([\r\n])"), split(R"(\s?\p{L}+)"), split(R"(\s?\p{P}+)"),
                                        split(kDeepseekCjk), digits(true), byte_level(false)});
            break;
        case PreFamily::kDeepseekV3:
            p.normalizer = json{{"type", "Sequence"}, {"normalizers", json::array()}};
            p.pre_tokenizer = sequence({split(R"(\p{N}{1,3})"), split(kDeepseekV3Kana),
                                        split(kDeepseekV3Main), byte_level(false)});
            break;
        case PreFamily::kFalcon:
            p.pre_tokenizer = sequence({json{{"type", "Punctuation"}, {"behavior", "Contiguous"}},
                                        byte_level(true), digits(false), split("[0-9][0-9][0-9]")});
            break;
        case PreFamily::kStarcoder:
            p.pre_tokenizer = sequence({digits(true), byte_level(true)});
            break;
        case PreFamily::kCommandR:
            p.normalizer = nfc();
            p.pre_tokenizer = sequence({digits(true), byte_level(true)});
            break;
        case PreFamily::kBloom:
            p.pre_tokenizer = sequence({split(kBloomRegex), byte_level(false)});
            break;
        case PreFamily::kViking:
            p.pre_tokenizer = sequence({split(kBloomRegex), digits(true), byte_level(false)});
            break;
        case PreFamily::kTekken:
            p.pre_tokenizer = sequence({split(kTekkenRegex), byte_level(false)});
            p.add_bos = true;
            p.ignore_merges = true;
            break;
        case PreFamily::kO200k:
            p.pre_tokenizer = sequence({split(kO200kRegex), byte_level(false)});
            break;
        case PreFamily::kSeedCoder:
            p.pre_tokenizer = sequence({split(kSeedCoderRegex), byte_level(false)});
            break;
        case PreFamily::kBailing:
            p.pre_tokenizer = sequence({split(kBailingRegex), byte_level(false)});
            break;
    }
    return p;
}

}  // namespace

Result<BpePreTokenization> bpe_pre_tokenization(std::string_view pre_name) {
    if (pre_name.empty()) pre_name = "default";
    for (const PreName& entry : kPreNames) {
        if (entry.name == pre_name) return build(entry.family);
    }
    std::string known;
    for (const PreName& entry : kPreNames) {
        if (!known.empty()) known += ", ";
        known += entry.name;
    }
    return unimplemented("GGUF tokenizer.ggml.pre '" + std::string(pre_name) +
                         "' is not a pre-tokenizer kite knows; expected one of: " + known);
}

std::vector<std::string_view> known_bpe_pre_names() {
    std::vector<std::string_view> names;
    for (const PreName& entry : kPreNames) names.push_back(entry.name);
    return names;
}

}  // namespace kite::gguf_tok
