// open_gguf_source on the default model: the config.json it builds (values from SmolLM2-135M's
// Hugging Face config.json: 30 layers, hidden 576, 9/3 heads, ffn 1536, rope 1e5, tied), names,
// shapes, and the Q/K un-permutation (checked by re-applying convert_hf_to_gguf's permutation).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/weight_source.h"

namespace kite {
namespace {

std::string model_path() { return std::string(KITE_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"; }

class GgufSourceTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!std::ifstream(model_path()).good()) GTEST_SKIP() << "run scripts/fetch_default_model.sh";
        auto s = open_gguf_source(model_path());
        ASSERT_TRUE(s.ok()) << s.status().to_string();
        src_ = std::move(*s);
    }
    std::unique_ptr<WeightSource> src_;
};

TEST_F(GgufSourceTest, ConfigMatchesHuggingFace) {
    const auto& c = src_->config_json();
    EXPECT_EQ(c["architectures"][0], "LlamaForCausalLM");
    EXPECT_EQ(c["hidden_size"], 576);
    EXPECT_EQ(c["num_hidden_layers"], 30);
    EXPECT_EQ(c["intermediate_size"], 1536);
    EXPECT_EQ(c["num_attention_heads"], 9);
    EXPECT_EQ(c["num_key_value_heads"], 3);
    EXPECT_EQ(c["vocab_size"], 49152);
    EXPECT_EQ(c["max_position_embeddings"], 8192);
    EXPECT_DOUBLE_EQ(c["rope_theta"].get<double>(), 100000.0);
    EXPECT_NEAR(c["rms_norm_eps"].get<double>(), 1e-5, 1e-12);
    EXPECT_EQ(c["tie_word_embeddings"], true);
    EXPECT_EQ(c["bos_token_id"], 1);
    EXPECT_EQ(c["eos_token_id"], 2);
    EXPECT_FALSE(c.contains("rope_scaling"));
    EXPECT_EQ(src_->generation_config_json()["eos_token_id"], 2);
}

TEST_F(GgufSourceTest, NamesAndShapes) {
    EXPECT_TRUE(src_->has("model.embed_tokens.weight"));
    EXPECT_FALSE(src_->has("lm_head.weight"));  // tied
    EXPECT_TRUE(src_->has("model.layers.29.mlp.down_proj.weight"));
    EXPECT_FALSE(src_->has("model.layers.30.mlp.down_proj.weight"));
    EXPECT_FALSE(src_->has("model.layers.x.mlp.down_proj.weight"));
    auto emb = src_->get("model.embed_tokens.weight");
    ASSERT_TRUE(emb.ok());
    EXPECT_EQ(emb->shape(), (std::vector<int64_t>{49152, 576}));
    EXPECT_EQ(emb->dtype(), DType::kQ8_0);
    auto k = src_->get("model.layers.3.self_attn.k_proj.weight");
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->shape(), (std::vector<int64_t>{192, 576}));
    EXPECT_EQ(k->dtype(), DType::kQ4_1);
    auto down = src_->get("model.layers.0.mlp.down_proj.weight");
    ASSERT_TRUE(down.ok());
    EXPECT_EQ(down->shape(), (std::vector<int64_t>{576, 1536}));
    auto norm = src_->get("model.norm.weight");
    ASSERT_TRUE(norm.ok());
    EXPECT_EQ(norm->dtype(), DType::kF32);
    auto missing = src_->get("lm_head.weight");
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    EXPECT_NE(src_->location("model.norm.weight").find("output_norm.weight"), std::string::npos);
}

// convert_hf_to_gguf: w.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2).reshape(w.shape).
// Applying it to what get() returns must give back the rows stored in the file.
TEST_F(GgufSourceTest, QkPermutationIsUndone) {
    auto file = GgufFile::open(model_path());
    ASSERT_TRUE(file.ok());
    for (auto [hf, gg, heads] : {std::tuple<const char*, const char*, int>{"model.layers.5.self_attn.q_proj.weight",
                                                                            "blk.5.attn_q.weight", 9},
                                 {"model.layers.5.self_attn.k_proj.weight", "blk.5.attn_k.weight", 3}}) {
        auto hf_t = src_->get(hf);
        auto stored = file->tensor(gg);
        ASSERT_TRUE(hf_t.ok() && stored.ok());
        const int64_t rows = hf_t->dim(0), rb = hf_t->nbytes() / rows, half = rows / heads / 2;
        std::vector<uint8_t> permuted(hf_t->nbytes());
        // permuted[h][a][b] (shape heads, half, 2) = original[h][b][a] (shape heads, 2, half)
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t a = 0; a < half; ++a)
                for (int64_t b = 0; b < 2; ++b)
                    std::memcpy(&permuted[((h * half + a) * 2 + b) * rb],
                                hf_t->data<uint8_t>() + ((h * 2 + b) * half + a) * rb, rb);
        EXPECT_EQ(std::memcmp(permuted.data(), stored->raw(), permuted.size()), 0) << hf;
        // and it is a real permutation of this tensor (the stored rows differ from HF order)
        EXPECT_NE(std::memcmp(hf_t->raw(), stored->raw(), permuted.size()), 0) << hf;
    }
    // v_proj is not permuted: same bytes as stored.
    auto v = src_->get("model.layers.5.self_attn.v_proj.weight");
    auto vs = file->tensor("blk.5.attn_v.weight");
    ASSERT_TRUE(v.ok() && vs.ok());
    ASSERT_EQ(v->nbytes(), vs->nbytes());
    EXPECT_EQ(std::memcmp(v->raw(), vs->raw(), v->nbytes()), 0);
}

// A small synthetic GGUF, written field by field (format: ggml's docs/gguf.md).
struct MiniGguf {
    std::vector<uint8_t> b;
    std::vector<std::pair<std::string, std::vector<uint64_t>>> tensors;  // f32, ne order
    int n_kv = 0;
    std::vector<uint8_t> kv;
    template <typename T> static void put(std::vector<uint8_t>& o, T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        o.insert(o.end(), p, p + sizeof(T));
    }
    static void str(std::vector<uint8_t>& o, const std::string& s) {
        put<uint64_t>(o, s.size());
        o.insert(o.end(), s.begin(), s.end());
    }
    void u32(const std::string& k, uint32_t v) { str(kv, k); put<uint32_t>(kv, 4); put<uint32_t>(kv, v); ++n_kv; }
    void f32(const std::string& k, float v) { str(kv, k); put<uint32_t>(kv, 6); put<float>(kv, v); ++n_kv; }
    void s(const std::string& k, const std::string& v) { str(kv, k); put<uint32_t>(kv, 8); str(kv, v); ++n_kv; }
    std::string write(const std::string& name) {
        put<uint32_t>(b, 0x46554747); put<uint32_t>(b, 3);
        put<uint64_t>(b, tensors.size()); put<uint64_t>(b, n_kv);
        b.insert(b.end(), kv.begin(), kv.end());
        uint64_t off = 0;
        for (auto& [n, ne] : tensors) {
            str(b, n); put<uint32_t>(b, ne.size());
            uint64_t numel = 1;
            for (auto d : ne) { put<uint64_t>(b, d); numel *= d; }
            put<uint32_t>(b, 0); put<uint64_t>(b, off);
            off += (numel * 4 + 31) / 32 * 32;
        }
        while (b.size() % 32) b.push_back(0);
        float counter = 0;
        for (auto& [n, ne] : tensors) {
            uint64_t numel = 1;
            for (auto d : ne) numel *= d;
            for (uint64_t i = 0; i < numel; ++i) put<float>(b, counter++);
            while (b.size() % 32) b.push_back(0);
        }
        const std::string path = ::testing::TempDir() + "/" + name;
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
        return path;
    }
};

// Qwen3: hyper-parameters under "qwen3.*", head_dim from key_length, an untied output, q/k norms,
// and no Q/K permutation (convert_hf_to_gguf permutes only llama-family weights).
TEST(GgufSource, Qwen3Mapping) {
    MiniGguf g;
    g.s("general.architecture", "qwen3");
    g.u32("qwen3.embedding_length", 64);
    g.u32("qwen3.block_count", 1);
    g.u32("qwen3.feed_forward_length", 96);
    g.u32("qwen3.attention.head_count", 4);
    g.u32("qwen3.attention.head_count_kv", 2);
    g.u32("qwen3.attention.key_length", 32);
    g.u32("qwen3.context_length", 4096);
    g.f32("qwen3.rope.freq_base", 1000000.0f);
    g.f32("qwen3.attention.layer_norm_rms_epsilon", 1e-6f);
    g.u32("tokenizer.ggml.eos_token_id", 7);
    g.u32("tokenizer.ggml.eot_token_id", 9);
    g.tensors = {{"token_embd.weight", {64, 10}}, {"output.weight", {64, 10}},
                 {"blk.0.attn_q.weight", {64, 128}}, {"blk.0.attn_k.weight", {64, 64}},
                 {"blk.0.attn_q_norm.weight", {32}}};
    auto s = open_gguf_source(g.write("qwen3.gguf"));
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    const auto& c = (*s)->config_json();
    EXPECT_EQ(c["architectures"][0], "Qwen3ForCausalLM");
    EXPECT_EQ(c["head_dim"], 32);
    EXPECT_EQ(c["num_key_value_heads"], 2);
    EXPECT_EQ(c["vocab_size"], 10);
    EXPECT_EQ(c["tie_word_embeddings"], false);
    EXPECT_FLOAT_EQ(c["rope_theta"].get<float>(), 1e6f);
    EXPECT_EQ((*s)->generation_config_json()["eos_token_id"], nlohmann::json::parse("[7, 9]"));
    auto q = (*s)->get("model.layers.0.self_attn.q_proj.weight");
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q->shape(), (std::vector<int64_t>{128, 64}));
    // Rows as stored: token_embd (640) and output (640) come first in the counter-filled data.
    EXPECT_EQ(q->data<float>()[64], 1280.0f + 64);
    EXPECT_TRUE((*s)->has("model.layers.0.self_attn.q_norm.weight"));
    EXPECT_TRUE((*s)->has("lm_head.weight"));
}

// Llama with a rope_freqs tensor (Llama 3.1 rope scaling) is refused, not silently mis-run.
TEST(GgufSource, LlamaRopeFreqsRefused) {
    MiniGguf g;
    g.s("general.architecture", "llama");
    g.u32("llama.embedding_length", 64);
    g.u32("llama.block_count", 1);
    g.u32("llama.feed_forward_length", 96);
    g.u32("llama.attention.head_count", 4);
    g.tensors = {{"token_embd.weight", {64, 10}}, {"rope_freqs.weight", {8}}};
    auto s = open_gguf_source(g.write("rope_freqs.gguf"));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("rope_freqs"), std::string::npos);
    // Missing required metadata names the key.
    MiniGguf h;
    h.s("general.architecture", "llama");
    auto m = open_gguf_source(h.write("nokeys.gguf"));
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("llama.embedding_length"), std::string::npos);
}

TEST(GgufSource, Errors) {
    auto missing = open_gguf_source("/nonexistent/model.gguf");
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    // A valid GGUF of an architecture kite does not map.
    const std::string path = ::testing::TempDir() + "/arch.gguf";
    {
        std::ofstream o(path, std::ios::binary);
        auto put = [&](auto v) { o.write(reinterpret_cast<const char*>(&v), sizeof(v)); };
        put(uint32_t{0x46554747}); put(uint32_t{3}); put(uint64_t{0}); put(uint64_t{1});
        const std::string k = "general.architecture", v = "mamba";
        put(uint64_t{k.size()}); o << k; put(uint32_t{8}); put(uint64_t{v.size()}); o << v;
    }
    auto s = open_gguf_source(path);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(s.status().message().find("mamba"), std::string::npos);
}

}  // namespace
}  // namespace kite
