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
