// The tokenizer.json built from GGUF metadata, compared piece by piece with the tokenizer.json HF
// ships for the same model (shared/tokenizers), plus hand-made metadata for each error path.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/gguf_tokenizer.h"
#include "test_gguf_tokenizer_util.h"

namespace kite::testing {
namespace {

using json = nlohmann::json;

GgufTokenizerFiles convert_vocab(const std::string& vocab) {
    const std::string path = vocab_gguf(vocab);
    auto g = GgufFile::open(path);
    EXPECT_TRUE(g.ok()) << g.status().to_string();
    if (!g.ok()) return {};
    auto f = gguf_tokenizer_files(*g);
    EXPECT_TRUE(f.ok()) << f.status().to_string();
    return f.ok() ? *f : GgufTokenizerFiles{};
}

json hf_tokenizer(const std::string& family) { return read_json_file(kGgufTokDir + family + "/tokenizer.json"); }

// Llama 2: vocabulary, the merges rebuilt from scores (HF's own conversion, in HF's order),
// normalizer, decoder and post-processor all equal the HF file's.
TEST(GgufTokenizerConvert, LlamaSpmEqualsHfLlama2) {
    GgufTokenizerFiles f = convert_vocab("llama-spm");
    json hf = hf_tokenizer("llama2");
    ASSERT_TRUE(f.tokenizer.is_object() && hf.is_object());
    EXPECT_EQ(f.tokenizer["model"]["vocab"], hf["model"]["vocab"]);
    EXPECT_EQ(f.tokenizer["model"]["merges"].size(), hf["model"]["merges"].size());
    EXPECT_TRUE(f.tokenizer["model"]["merges"] == hf["model"]["merges"]) << "merge order differs";
    for (const char* k : {"unk_token", "fuse_unk", "byte_fallback"})
        EXPECT_EQ(f.tokenizer["model"][k], hf["model"][k]) << k;
    EXPECT_EQ(f.tokenizer["normalizer"], hf["normalizer"]);
    EXPECT_EQ(f.tokenizer["decoder"], hf["decoder"]);
    EXPECT_EQ(f.tokenizer["post_processor"], hf["post_processor"]);
    EXPECT_TRUE(f.tokenizer["pre_tokenizer"].is_null());
    ASSERT_EQ(f.tokenizer["added_tokens"].size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        for (const char* k : {"id", "content", "special", "normalized"})
            EXPECT_EQ(f.tokenizer["added_tokens"][i][k], hf["added_tokens"][i][k]) << i << " " << k;
    }
    EXPECT_EQ(f.config["bos_token"], "<s>");
    EXPECT_EQ(f.config["add_bos_token"], true);
}

// Byte-level BPE: vocabulary, merges and pre-tokenizer equal the family's tokenizer.json.
struct BpePair {
    const char* family;
    const char* vocab;
};
class GgufBpeConvert : public ::testing::TestWithParam<BpePair> {};

TEST_P(GgufBpeConvert, EqualsHfFile) {
    GgufTokenizerFiles f = convert_vocab(GetParam().vocab);
    json hf = hf_tokenizer(GetParam().family);
    ASSERT_TRUE(f.tokenizer.is_object() && hf.is_object());
    EXPECT_TRUE(f.tokenizer["model"]["merges"] == hf["model"]["merges"]);
    // Every HF vocabulary entry and added token has the same id in the conversion.
    const json& vocab = f.tokenizer["model"]["vocab"];
    size_t mismatched = 0;
    for (auto it = hf["model"]["vocab"].begin(); it != hf["model"]["vocab"].end(); ++it)
        mismatched += !(vocab.contains(it.key()) && vocab[it.key()] == it.value());
    EXPECT_EQ(mismatched, 0u);
    std::map<int64_t, json> added;
    for (const json& a : f.tokenizer["added_tokens"]) added[a["id"].get<int64_t>()] = a;
    for (const json& a : hf["added_tokens"]) {
        if (std::string(GetParam().vocab) == "qwen2" && a["id"].get<int64_t>() >= 151646) continue;  // see below
        ASSERT_TRUE(added.count(a["id"].get<int64_t>())) << a.dump();
        EXPECT_EQ(added[a["id"].get<int64_t>()]["content"], a["content"]);
        EXPECT_EQ(added[a["id"].get<int64_t>()]["special"], a["special"]);
    }
    EXPECT_EQ(f.tokenizer["pre_tokenizer"]["type"], hf["pre_tokenizer"]["type"]);
    if (hf["pre_tokenizer"]["type"] == "Sequence") {
        const json& mine = f.tokenizer["pre_tokenizer"]["pretokenizers"];
        const json& theirs = hf["pre_tokenizer"]["pretokenizers"];
        ASSERT_EQ(mine.size(), theirs.size());
        for (size_t i = 0; i < mine.size(); ++i) {
            EXPECT_EQ(mine[i]["type"], theirs[i]["type"]) << i;
            if (theirs[i].contains("pattern")) { EXPECT_EQ(mine[i]["pattern"], theirs[i]["pattern"]) << i; }
            if (theirs[i].contains("use_regex")) { EXPECT_EQ(mine[i]["use_regex"], theirs[i]["use_regex"]) << i; }
        }
    }
    EXPECT_EQ(f.tokenizer["normalizer"], hf["normalizer"]);
}

INSTANTIATE_TEST_SUITE_P(Families, GgufBpeConvert,
                         ::testing::Values(BpePair{"llama3", "llama-bpe"}, BpePair{"qwen2.5", "qwen2"},
                                           BpePair{"gpt2", "gpt-2"}, BpePair{"falcon", "falcon"}),
                         [](const ::testing::TestParamInfo<BpePair>& i) {
                             std::string s = i.param.family;
                             for (char& c : s) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                             return s;
                         });

// The Qwen1.5 vocab GGUF pads its vocabulary with "[PAD<id>]" entries: they stay ids (so every id
// the model can emit has a name) but are not added tokens to be matched in text.
TEST(GgufTokenizerConvert, PaddingPlaceholdersAreNotAddedTokens) {
    GgufTokenizerFiles f = convert_vocab("qwen2");
    EXPECT_EQ(f.tokenizer["model"]["vocab"]["[PAD151646]"], 151646);
    for (const json& a : f.tokenizer["added_tokens"]) EXPECT_LT(a["id"].get<int64_t>(), 151646) << a.dump();
}

// WordPiece: llama.cpp stores "##ing" as "ing" and "the" as "▁the"; the conversion undoes it.
TEST(GgufTokenizerConvert, BertVocabularyEqualsHf) {
    GgufTokenizerFiles f = convert_vocab("bert-bge");
    json hf = hf_tokenizer("bert");
    EXPECT_EQ(f.tokenizer["model"]["vocab"], hf["model"]["vocab"]);
    for (const char* k : {"normalizer", "pre_tokenizer", "decoder", "post_processor"})
        EXPECT_EQ(f.tokenizer[k], hf[k]) << k;
    EXPECT_EQ(f.tokenizer["model"]["unk_token"], "[UNK]");
}

// Hand-worked: pieces a b c ab bc abc with scores; merges come from splits into two pieces,
// highest merged score first, ties by left id then right id.
TEST(GgufTokenizerConvert, SpmMergesHandWorked) {
    std::vector<std::string> pieces = {"a", "b", "c", "ab", "bc", "abc", "<s>"};
    std::vector<double> scores = {0, 0, 0, -1, -2, -1, 0};
    std::vector<bool> eligible = {true, true, true, true, true, true, false};
    // ab (-1): a+b. abc (-1): a+bc (ids 0,4), ab+c (ids 3,2). bc (-2): b+c.
    // Score -1 ties: (a,b) [0,1], (a,bc) [0,4], (ab,c) [3,2].
    std::vector<std::string> want = {"a b", "a bc", "ab c", "b c"};
    EXPECT_EQ(gguf_tok::spm_merges(pieces, scores, eligible), want);
}

// Hostile scores and pieces: NaN ranks last instead of breaking the sort; a 4 MB piece is split
// only where both halves could be pieces (here: none), so this stays instant.
TEST(GgufTokenizerConvert, SpmMergesSurviveHostileInput) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<std::string> pieces = {"a", "b", "ab", "ba", std::string(4 << 20, 'x')};
    std::vector<double> scores = {0, 0, nan, -1, nan};
    std::vector<bool> eligible(pieces.size(), true);
    EXPECT_EQ(gguf_tok::spm_merges(pieces, scores, eligible), (std::vector<std::string>{"b a", "a b"}));
}

TEST(GgufTokenizerConvert, EveryKnownPreNameBuilds) {
    std::set<std::string_view> seen;
    for (std::string_view name : gguf_tok::known_bpe_pre_names()) {
        EXPECT_TRUE(seen.insert(name).second) << "duplicate " << name;
        auto p = gguf_tok::bpe_pre_tokenization(name);
        ASSERT_TRUE(p.ok()) << name;
        EXPECT_TRUE(p->pre_tokenizer.is_object()) << name;
    }
    EXPECT_GE(seen.size(), 50u);
    auto bad = gguf_tok::bpe_pre_tokenization("no-such-pre");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(bad.status().message().find("no-such-pre"), std::string::npos);
}

// A minimal byte-level vocabulary: the tokens of "hello" and their merges.
void tiny_bpe(GgufWriter& w, const std::string& pre = "gpt-2") {
    w.str("tokenizer.ggml.model", "gpt2");
    if (!pre.empty()) w.str("tokenizer.ggml.pre", pre);
    w.strs("tokenizer.ggml.tokens", {"h", "e", "l", "o", "he", "ll", "llo", "hello", "<|end|>"});
    w.i32s("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 1, 1, 1, 3});
    w.strs("tokenizer.ggml.merges", {"h e", "l l", "ll o", "he llo"});
    w.u32("tokenizer.ggml.eos_token_id", 8);
}

TEST(GgufTokenizerConvert, HandMadeBpeBuildsAndEncodes) {
    GgufWriter w;
    tiny_bpe(w);
    w.str("tokenizer.chat_template", "{{ messages }}");
    auto g = w.parse();
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    auto f = gguf_tokenizer_files(*g);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(f->config["eos_token"], "<|end|>");
    EXPECT_EQ(f->config["chat_template"], "{{ messages }}");
    EXPECT_EQ(f->config["add_bos_token"], false);
    auto tok = tokenizer_from_gguf(*g);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    auto ids = (*tok)->encode("hello<|end|>", false);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, (std::vector<int32_t>{7, 8}));
    EXPECT_EQ((*tok)->eos_token_id(), 8);
    EXPECT_EQ((*tok)->chat_template(), "{{ messages }}");
}

// A file without token types: the named special ids still become special added tokens.
TEST(GgufTokenizerConvert, SpecialIdsWithoutTokenTypes) {
    GgufWriter w;
    w.str("tokenizer.ggml.model", "gpt2");
    w.strs("tokenizer.ggml.tokens", {"h", "i", "hi", "<|eot|>"});
    w.strs("tokenizer.ggml.merges", {"h i"});
    w.u32("tokenizer.ggml.eos_token_id", 3);
    auto g = w.parse();
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    auto tok = tokenizer_from_gguf(*g);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    auto ids = (*tok)->encode("hi<|eot|>", false);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, (std::vector<int32_t>{2, 3}));
    EXPECT_TRUE((*tok)->is_special(3));
    auto text = (*tok)->decode(*ids, true);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, "hi");
}

// RoBERTa-style pre names close the input with the separator (here named only as EOS).
TEST(GgufTokenizerConvert, RobertaStyleAddsSeparator) {
    GgufWriter w;
    tiny_bpe(w, "roberta-bpe");
    w.strs("tokenizer.ggml.tokens", {"h", "e", "l", "o", "he", "ll", "llo", "hello", "<|end|>", "<s>", "</s>"});
    w.i32s("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3});
    w.u32("tokenizer.ggml.bos_token_id", 9);
    w.u32("tokenizer.ggml.eos_token_id", 10);
    w.boolean("tokenizer.ggml.add_bos_token", true);
    auto g = w.parse();
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    auto tok = tokenizer_from_gguf(*g);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    auto ids = (*tok)->encode("hello", true);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, (std::vector<int32_t>{9, 7, 10}));
    auto plain = (*tok)->encode("hello", false);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(*plain, (std::vector<int32_t>{7}));
}

// Vocabularies a converter would never write must still give a tokenizer or one clear error, and
// never a crash: a merge naming an unknown token, a token twice, a token type out of range.
TEST(GgufTokenizerConvert, OddVocabulariesDoNotCrash) {
    {
        GgufWriter w;
        tiny_bpe(w);
        w.strs("tokenizer.ggml.merges", {"h e", "q z"});
        auto g = w.parse();
        ASSERT_TRUE(g.ok());
        auto tok = tokenizer_from_gguf(*g);
        if (!tok.ok()) {
            EXPECT_NE(tok.status().message().find("GGUF"), std::string::npos) << tok.status().to_string();
            EXPECT_EQ(tok.status().message().find('\n'), std::string::npos);
        }
    }
    {
        GgufWriter w;
        tiny_bpe(w);
        w.strs("tokenizer.ggml.tokens", {"h", "e", "l", "o", "he", "ll", "llo", "hello", "hello"});
        w.i32s("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 1, 1, 99, -5});
        auto g = w.parse();
        ASSERT_TRUE(g.ok());
        auto tok = tokenizer_from_gguf(*g);
        if (tok.ok()) {
            auto ids = (*tok)->encode("hello hello", true);
            ASSERT_TRUE(ids.ok());
            for (int32_t id = 0; id < 9; ++id) {
                std::vector<int32_t> one = {id};
                (void)(*tok)->decode(one, false);
            }
        }
    }
}

// Each bad input: one status naming the key and what was expected.
TEST(GgufTokenizerConvert, BadMetadataGivesClearErrors) {
    struct Case {
        const char* what;
        std::function<void(GgufWriter&)> build;
        StatusCode code;
        const char* needle;
    };
    const Case cases[] = {
        {"no tokenizer", [](GgufWriter& w) { w.str("general.architecture", "llama"); }, StatusCode::kNotFound,
         "tokenizer.ggml.model"},
        {"unknown model", [](GgufWriter& w) { tiny_bpe(w); w.str("tokenizer.ggml.model", "rwkv"); },
         StatusCode::kUnimplemented, "rwkv"},
        {"unknown pre", [](GgufWriter& w) { tiny_bpe(w, "martian"); }, StatusCode::kUnimplemented, "martian"},
        {"bad merge", [](GgufWriter& w) {
             tiny_bpe(w);
             w.strs("tokenizer.ggml.merges", {"h e", "hello"});
         }, StatusCode::kInvalidArgument, "tokenizer.ggml.merges[1]"},
        {"id out of range", [](GgufWriter& w) { tiny_bpe(w); w.u32("tokenizer.ggml.bos_token_id", 99); },
         StatusCode::kInvalidArgument, "bos_token_id"},
        {"types length", [](GgufWriter& w) { tiny_bpe(w); w.i32s("tokenizer.ggml.token_type", {1, 1}); },
         StatusCode::kInvalidArgument, "token_type"},
        {"add_bos without bos", [](GgufWriter& w) { tiny_bpe(w); w.boolean("tokenizer.ggml.add_bos_token", true); },
         StatusCode::kInvalidArgument, "bos_token_id"},
        {"add_sep without separator", [](GgufWriter& w) {
             tiny_bpe(w);
             w.boolean("tokenizer.ggml.add_sep_token", true);
             w.u32("tokenizer.ggml.eos_token_id", 0xFFFFFFFFu);  // "none"
         }, StatusCode::kInvalidArgument, "seperator_token_id"},
        {"spm without scores", [](GgufWriter& w) { tiny_bpe(w); w.str("tokenizer.ggml.model", "llama"); },
         StatusCode::kInvalidArgument, "tokenizer.ggml.scores"},
        {"no merges", [](GgufWriter& w) {
             w.str("tokenizer.ggml.model", "gpt2");
             w.strs("tokenizer.ggml.tokens", {"a"});
         }, StatusCode::kNotFound, "merges"},
        {"tokens of wrong type", [](GgufWriter& w) {
             w.str("tokenizer.ggml.model", "gpt2");
             w.i32s("tokenizer.ggml.tokens", {1, 2});
         }, StatusCode::kInvalidArgument, "tokenizer.ggml.tokens"},
    };
    for (const Case& c : cases) {
        GgufWriter w;
        c.build(w);
        auto g = w.parse();
        ASSERT_TRUE(g.ok()) << c.what << ": " << g.status().to_string();
        auto f = gguf_tokenizer_files(*g);
        ASSERT_FALSE(f.ok()) << c.what;
        EXPECT_EQ(f.status().code(), c.code) << c.what << ": " << f.status().to_string();
        EXPECT_NE(f.status().message().find(c.needle), std::string::npos) << c.what << ": " << f.status().to_string();
        EXPECT_EQ(f.status().message().find('\n'), std::string::npos) << c.what;
    }
}

std::string base64_decode(const std::string& in) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char* p = c ? std::strchr(alphabet, c) : nullptr;
        if (!p) continue;  // '=' padding
        acc = (acc << 6) | uint32_t(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(char((acc >> bits) & 0xFF));
        }
    }
    return out;
}

// Unigram: a GGUF written from T5's tokenizer.json the way llama.cpp's converter writes one (pieces,
// scores, token types, SentencePiece's compiled normalizer, <extra_id_N> as user-defined tokens)
// must reproduce t5's vectors.shared.json.
TEST(GgufTokenizerConvert, T5UnigramReproducesVectors) {
    json hf = hf_tokenizer("t5");
    ASSERT_TRUE(hf.is_object());
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (const json& p : hf["model"]["vocab"]) {
        tokens.push_back(p[0]);
        scores.push_back(p[1].get<float>());
        const std::string& t = tokens.back();
        types.push_back(t == "<unk>" ? 2 : (t == "<pad>" || t == "</s>") ? 3 : t.rfind("<extra_id_", 0) == 0 ? 4 : 1);
    }
    GgufWriter w;
    w.str("tokenizer.ggml.model", "t5");
    w.strs("tokenizer.ggml.tokens", tokens);
    w.f32s("tokenizer.ggml.scores", scores);
    w.i32s("tokenizer.ggml.token_type", types);
    w.u8s("tokenizer.ggml.precompiled_charsmap", base64_decode(hf["normalizer"]["precompiled_charsmap"]));
    w.u32("tokenizer.ggml.eos_token_id", 1);
    w.u32("tokenizer.ggml.unknown_token_id", 2);
    w.u32("tokenizer.ggml.padding_token_id", 0);
    w.boolean("tokenizer.ggml.add_space_prefix", true);
    auto g = w.parse();
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    auto f = gguf_tokenizer_files(*g);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(f->tokenizer["normalizer"], hf["normalizer"]);
    auto tok = tokenizer_from_gguf(*g);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    const json vectors = read_json_file(kGgufTokDir + "t5/vectors.shared.json");
    ASSERT_EQ(vectors["cases"].size(), 324u);
    for (const json& c : vectors["cases"]) {
        const std::string text = c["text"];
        auto ids = (*tok)->encode(text, false);
        ASSERT_TRUE(ids.ok()) << ids.status().to_string();
        EXPECT_EQ(*ids, c["ids"].get<std::vector<int32_t>>()) << "'" << text << "'";
        auto ids_sp = (*tok)->encode(text, true);
        ASSERT_TRUE(ids_sp.ok());
        EXPECT_EQ(*ids_sp, c["ids_with_special"].get<std::vector<int32_t>>()) << "'" << text << "'";
        auto dec = (*tok)->decode(*ids_sp, false);
        ASSERT_TRUE(dec.ok());
        EXPECT_EQ(*dec, c["decoded"].get<std::string>()) << "'" << text << "'";
    }
}

TEST(GgufTokenizerConvert, LoadModelTokenizerPaths) {
    auto missing = load_model_tokenizer("/no/such/model.gguf");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    auto folder = load_model_tokenizer(kGgufTokDir + "gpt2");  // a folder with tokenizer.json
    ASSERT_TRUE(folder.ok()) << folder.status().to_string();
    auto gguf = load_model_tokenizer(vocab_gguf("gpt-2"));
    ASSERT_TRUE(gguf.ok()) << gguf.status().to_string();
    auto a = (*folder)->encode("Hello world", false), b = (*gguf)->encode("Hello world", false);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(*a, (std::vector<int32_t>{15496, 995}));  // GPT-2's "Hello", " world"
    // A folder with no tokenizer.json: its one .gguf is used; two are ambiguous.
    const auto dir = std::filesystem::temp_directory_path() / ("kite_gguf_dir_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::filesystem::create_symlink(vocab_gguf("gpt-2"), dir / "model.gguf");
    auto from_dir = load_model_tokenizer(dir.string());
    ASSERT_TRUE(from_dir.ok()) << from_dir.status().to_string();
    auto c = (*from_dir)->encode("Hello world", false);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(*c, *a);
    std::filesystem::create_symlink(vocab_gguf("falcon"), dir / "other.gguf");
    auto two = load_model_tokenizer(dir.string());
    EXPECT_FALSE(two.ok());
    EXPECT_NE(two.status().message().find("2 .gguf files"), std::string::npos) << two.status().to_string();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kite::testing
