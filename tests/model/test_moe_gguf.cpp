// GGUF MoE files (llama.cpp's layouts: router ffn_gate_inp, experts stacked by kind in
// ffn_{gate,up,down}_exps; qwen3moe with qwen3moe.expert_* metadata, Mixtral as "llama" with
// llama.expert_count and llama.cpp's Q/K row permutation) load into the same model as the Hugging
// Face checkpoint of the same weights: a tiny model written both ways by this test gives the same
// logits bit for bit (the safetensors paths are checked against transformers in test_moe_reference).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "model/model.h"
#include "model_test_util.h"
#include "moe_reference_forward.h"

namespace kite {
namespace {

using testing::TinyCheckpoint;

// Minimal GGUF v3 writer: metadata (u32, f32, string) and f32 tensors.
class GgufWriter {
public:
    void u32(const std::string& k, uint32_t v) { kv_.push_back({k, 4, bytes_of(v)}); }
    void f32(const std::string& k, float v) { kv_.push_back({k, 6, bytes_of(v)}); }
    void str(const std::string& k, const std::string& v) { kv_.push_back({k, 8, string_bytes(v)}); }
    void tensor(const std::string& name, const std::vector<int64_t>& shape, const std::vector<double>& v) {
        tensors_.push_back({name, shape, v});
    }
    void write(const std::string& path) const {
        std::string out = "GGUF";
        append(out, uint32_t(3));
        append(out, uint64_t(tensors_.size()));
        append(out, uint64_t(kv_.size()));
        for (const Kv& k : kv_) {
            out += string_bytes(k.key);
            append(out, k.type);
            out += k.value;
        }
        uint64_t off = 0;
        for (const Tensor_& t : tensors_) {
            out += string_bytes(t.name);
            append(out, uint32_t(t.shape.size()));
            for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) append(out, uint64_t(*it));  // ne0 first
            append(out, uint32_t(0));  // GGML_TYPE_F32
            append(out, off);
            off += (t.v.size() * 4 + 31) / 32 * 32;
        }
        while (out.size() % 32) out += '\0';
        for (const Tensor_& t : tensors_) {
            for (double x : t.v) append(out, static_cast<float>(x));
            while (out.size() % 32) out += '\0';
        }
        std::ofstream(path, std::ios::binary).write(out.data(), static_cast<std::streamsize>(out.size()));
    }

private:
    struct Kv {
        std::string key;
        uint32_t type;
        std::string value;
    };
    struct Tensor_ {
        std::string name;
        std::vector<int64_t> shape;
        std::vector<double> v;
    };
    template <typename T>
    static std::string bytes_of(T v) {
        return std::string(reinterpret_cast<const char*>(&v), sizeof(T));
    }
    template <typename T>
    static void append(std::string& s, T v) {
        s += bytes_of(v);
    }
    static std::string string_bytes(const std::string& s) { return bytes_of(uint64_t(s.size())) + s; }
    std::vector<Kv> kv_;
    std::vector<Tensor_> tensors_;
};

TEST(MoeGguf, Qwen3MoeGgufMatchesSafetensors) {
    const int64_t H = 64, nh = 4, nkv = 2, D = 16, I = 96, MI = 32, V = 64;
    const int E = 8, L = 2;
    TinyCheckpoint ck;
    ck.config = {{"architectures", {"Qwen3MoeForCausalLM"}}, {"model_type", "qwen3_moe"}, {"vocab_size", V},
                 {"hidden_size", H}, {"intermediate_size", I}, {"moe_intermediate_size", MI}, {"num_hidden_layers", L},
                 {"num_attention_heads", nh}, {"num_key_value_heads", nkv}, {"head_dim", D}, {"num_experts", E},
                 {"num_experts_per_tok", 2}, {"norm_topk_prob", true}, {"rms_norm_eps", 1e-6},
                 {"rope_theta", 1000000.0}, {"max_position_embeddings", 256}, {"tie_word_embeddings", false}};
    GgufWriter g;
    g.str("general.architecture", "qwen3moe");
    g.u32("qwen3moe.embedding_length", H);
    g.u32("qwen3moe.block_count", L);
    g.u32("qwen3moe.feed_forward_length", I);
    g.u32("qwen3moe.attention.head_count", nh);
    g.u32("qwen3moe.attention.head_count_kv", nkv);
    g.u32("qwen3moe.attention.key_length", D);
    g.u32("qwen3moe.context_length", 256);
    g.f32("qwen3moe.attention.layer_norm_rms_epsilon", 1e-6f);
    g.f32("qwen3moe.rope.freq_base", 1000000.0f);
    g.u32("qwen3moe.expert_count", E);
    g.u32("qwen3moe.expert_used_count", 2);
    g.u32("qwen3moe.expert_feed_forward_length", MI);
    auto both = [&](const std::string& hf, const std::string& gg, std::vector<int64_t> shape, bool norm = false) {
        if (norm) ck.norm(hf, shape[0]);
        else ck.add(hf, shape, 0.3);
        g.tensor(gg, shape, ck.at(hf));
    };
    both("model.embed_tokens.weight", "token_embd.weight", {V, H});
    both("lm_head.weight", "output.weight", {V, H});
    both("model.norm.weight", "output_norm.weight", {H}, true);
    for (int l = 0; l < L; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".", b = "blk." + std::to_string(l) + ".";
        both(p + "input_layernorm.weight", b + "attn_norm.weight", {H}, true);
        both(p + "post_attention_layernorm.weight", b + "ffn_norm.weight", {H}, true);
        both(p + "self_attn.q_proj.weight", b + "attn_q.weight", {nh * D, H});
        both(p + "self_attn.k_proj.weight", b + "attn_k.weight", {nkv * D, H});
        both(p + "self_attn.v_proj.weight", b + "attn_v.weight", {nkv * D, H});
        both(p + "self_attn.o_proj.weight", b + "attn_output.weight", {H, nh * D});
        both(p + "self_attn.q_norm.weight", b + "attn_q_norm.weight", {D}, true);
        both(p + "self_attn.k_norm.weight", b + "attn_k_norm.weight", {D}, true);
        both(p + "mlp.gate.weight", b + "ffn_gate_inp.weight", {E, H});
        // Hugging Face: one module per expert; GGUF: each kind stacked over the experts.
        std::vector<double> gate, up, down;
        for (int e = 0; e < E; ++e) {
            const std::string m = p + "mlp.experts." + std::to_string(e) + ".";
            ck.add(m + "gate_proj.weight", {MI, H});
            ck.add(m + "up_proj.weight", {MI, H});
            ck.add(m + "down_proj.weight", {H, MI});
            for (auto [dst, n] : {std::pair{&gate, "gate_proj"}, {&up, "up_proj"}, {&down, "down_proj"}}) {
                const std::vector<double>& w = ck.at(m + n + ".weight");
                dst->insert(dst->end(), w.begin(), w.end());
            }
        }
        g.tensor(b + "ffn_gate_exps.weight", {E, MI, H}, gate);
        g.tensor(b + "ffn_up_exps.weight", {E, MI, H}, up);
        g.tensor(b + "ffn_down_exps.weight", {E, H, MI}, down);
    }
    const std::string dir = ::testing::TempDir() + "/kite_qwen3moe_gguf";
    std::filesystem::create_directories(dir);
    ck.write(dir);
    g.write(dir + "/model.gguf");

    auto run = [&](const std::string& path) {
        auto model = load_model(path);
        EXPECT_TRUE(model.ok()) << model.status().message();
        std::vector<std::vector<float>> out;
        if (!model.ok()) return out;
        auto kv = KvCache::create((*model)->kv_shape(8, 4));
        testing::TestSequence seq;
        int next = 0;
        auto r = testing::run_step(**model, *kv, {&seq}, {{5, 1, 60, 33, 7, 2, 2, 19, 40}}, true, &next);
        EXPECT_TRUE(r.ok()) << r.status().message();
        if (r.ok()) out = *r;
        return out;
    };
    const auto from_st = run(dir), from_gguf = run(dir + "/model.gguf");
    ASSERT_FALSE(from_st.empty());
    EXPECT_EQ(from_gguf, from_st);
}

// convert_hf_to_gguf's Llama permutation of Q/K rows: stored row h*hd + 2i + j = HF row h*hd + j*hd/2 + i.
std::vector<double> permute_qk(const std::vector<double>& w, int64_t heads, int64_t cols) {
    const int64_t rows = static_cast<int64_t>(w.size()) / cols, hd = rows / heads, half = hd / 2;
    std::vector<double> out(w.size());
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < half; ++i)
            for (int64_t j = 0; j < 2; ++j)
                std::copy_n(w.begin() + (h * hd + j * half + i) * cols, cols, out.begin() + (h * hd + 2 * i + j) * cols);
    return out;
}

TEST(MoeGguf, MixtralStoredAsLlamaMatchesSafetensors) {
    const int64_t H = 64, nh = 4, nkv = 2, D = 16, I = 32, V = 64;
    const int E = 4, L = 2;
    TinyCheckpoint ck;
    ck.config = {{"architectures", {"MixtralForCausalLM"}}, {"model_type", "mixtral"}, {"vocab_size", V},
                 {"hidden_size", H}, {"intermediate_size", I}, {"num_hidden_layers", L}, {"num_attention_heads", nh},
                 {"num_key_value_heads", nkv}, {"num_local_experts", E}, {"num_experts_per_tok", 2},
                 {"rms_norm_eps", 1e-5}, {"rope_theta", 1000000.0}, {"max_position_embeddings", 256},
                 {"tie_word_embeddings", false}};
    GgufWriter g;
    g.str("general.architecture", "llama");
    g.u32("llama.embedding_length", H);
    g.u32("llama.block_count", L);
    g.u32("llama.feed_forward_length", I);
    g.u32("llama.attention.head_count", nh);
    g.u32("llama.attention.head_count_kv", nkv);
    g.u32("llama.context_length", 256);
    g.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    g.f32("llama.rope.freq_base", 1000000.0f);
    g.u32("llama.expert_count", E);
    g.u32("llama.expert_used_count", 2);
    auto both = [&](const std::string& hf, const std::string& gg, std::vector<int64_t> shape, bool norm = false) {
        if (norm) ck.norm(hf, shape[0]);
        else ck.add(hf, shape, 0.3);
        g.tensor(gg, shape, ck.at(hf));
    };
    both("model.embed_tokens.weight", "token_embd.weight", {V, H});
    both("lm_head.weight", "output.weight", {V, H});
    both("model.norm.weight", "output_norm.weight", {H}, true);
    for (int l = 0; l < L; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".", b = "blk." + std::to_string(l) + ".";
        both(p + "input_layernorm.weight", b + "attn_norm.weight", {H}, true);
        both(p + "post_attention_layernorm.weight", b + "ffn_norm.weight", {H}, true);
        ck.add(p + "self_attn.q_proj.weight", {nh * D, H});
        ck.add(p + "self_attn.k_proj.weight", {nkv * D, H});
        g.tensor(b + "attn_q.weight", {nh * D, H}, permute_qk(ck.at(p + "self_attn.q_proj.weight"), nh, H));
        g.tensor(b + "attn_k.weight", {nkv * D, H}, permute_qk(ck.at(p + "self_attn.k_proj.weight"), nkv, H));
        both(p + "self_attn.v_proj.weight", b + "attn_v.weight", {nkv * D, H});
        both(p + "self_attn.o_proj.weight", b + "attn_output.weight", {H, nh * D});
        both(p + "block_sparse_moe.gate.weight", b + "ffn_gate_inp.weight", {E, H});
        std::vector<double> gate, up, down;  // HF: w1 (gate), w3 (up), w2 (down) per expert
        for (int e = 0; e < E; ++e) {
            const std::string m = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
            ck.add(m + "w1.weight", {I, H});
            ck.add(m + "w3.weight", {I, H});
            ck.add(m + "w2.weight", {H, I});
            for (auto [dst, n] : {std::pair{&gate, "w1"}, {&up, "w3"}, {&down, "w2"}}) {
                const std::vector<double>& w = ck.at(m + n + ".weight");
                dst->insert(dst->end(), w.begin(), w.end());
            }
        }
        g.tensor(b + "ffn_gate_exps.weight", {E, I, H}, gate);
        g.tensor(b + "ffn_up_exps.weight", {E, I, H}, up);
        g.tensor(b + "ffn_down_exps.weight", {E, H, I}, down);
    }
    const std::string dir = ::testing::TempDir() + "/kite_mixtral_gguf";
    std::filesystem::create_directories(dir);
    ck.write(dir);
    g.write(dir + "/model.gguf");
    auto run = [&](const std::string& path) {
        auto model = load_model(path);
        EXPECT_TRUE(model.ok()) << model.status().message();
        std::vector<std::vector<float>> out;
        if (!model.ok()) return out;
        EXPECT_EQ((*model)->config().architecture, "MixtralForCausalLM");
        auto kv = KvCache::create((*model)->kv_shape(8, 4));
        testing::TestSequence seq;
        int next = 0;
        auto r = testing::run_step(**model, *kv, {&seq}, {{5, 1, 60, 33, 7, 2, 2, 19, 40}}, true, &next);
        EXPECT_TRUE(r.ok()) << r.status().message();
        if (r.ok()) out = *r;
        return out;
    };
    const auto from_st = run(dir), from_gguf = run(dir + "/model.gguf");
    ASSERT_FALSE(from_st.empty());
    EXPECT_EQ(from_gguf, from_st);
}

}  // namespace
}  // namespace kite
