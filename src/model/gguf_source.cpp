// open_gguf_source: a GGUF file seen as a Hugging Face checkpoint. Metadata becomes a config.json
// equivalent, HF tensor names map to llama.cpp's, and llama.cpp's Q/K row permutation is undone.
#include <cstring>
#include <algorithm>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/weight_source.h"

namespace kite {

namespace {

using json = nlohmann::json;

// llama.cpp architecture name -> (HF architecture, model_type, Q/K rows permuted by the converter).
struct ArchMap {
    const char* gguf;
    const char* hf;
    const char* model_type;
    bool permuted_qk;
};
constexpr ArchMap kArchs[] = {
    {"llama", "LlamaForCausalLM", "llama", true},
    {"mistral", "MistralForCausalLM", "mistral", true},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", false},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", false},
};

// HF per-layer suffix -> llama.cpp per-layer name ("blk.N." + this).
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

std::string gguf_name(const std::string& hf) {
    if (hf == "model.embed_tokens.weight") return "token_embd.weight";
    if (hf == "model.norm.weight") return "output_norm.weight";
    if (hf == "lm_head.weight") return "output.weight";
    static const std::string kPrefix = "model.layers.";
    if (hf.rfind(kPrefix, 0) != 0) return "";
    const size_t dot = hf.find('.', kPrefix.size());
    if (dot == std::string::npos || dot == kPrefix.size()) return "";
    const std::string layer = hf.substr(kPrefix.size(), dot - kPrefix.size());
    if (layer.find_first_not_of("0123456789") != std::string::npos) return "";
    const std::string rest = hf.substr(dot + 1);
    for (const auto& [h, g] : kLayerNames) {
        if (rest == h) return "blk." + layer + "." + g;
    }
    return "";
}

class GgufSource : public WeightSource {
public:
    GgufSource(GgufFile file, const ArchMap& arch, json config, json gen, int n_head, int n_head_kv)
        : file_(std::move(file)), arch_(arch), config_(std::move(config)), gen_(std::move(gen)),
          n_head_(n_head), n_head_kv_(n_head_kv) {}

    bool has(const std::string& hf_name) const override {
        const std::string g = gguf_name(hf_name);
        return !g.empty() && file_.find_tensor(g) != nullptr;
    }

    std::string location(const std::string& hf_name) const override {
        const std::string g = gguf_name(hf_name);
        return file_.path() + (g.empty() ? "" : " (tensor " + g + ")");
    }

    const json& config_json() const override { return config_; }
    const json& generation_config_json() const override { return gen_; }
    const GgufFile* gguf_file() const override { return &file_; }

    Result<Tensor> get(const std::string& hf_name) const override {
        const std::string g = gguf_name(hf_name);
        if (g.empty()) return not_found(file_.path() + ": no GGUF tensor corresponds to '" + hf_name + "'");
        if (file_.find_tensor(g) == nullptr) {
            return not_found(file_.path() + ": tensor " + g + " (for " + hf_name + ") is missing");
        }
        KITE_ASSIGN_OR_RETURN(Tensor t, file_.tensor(g));
        if (!arch_.permuted_qk) return t;
        const bool is_q = g.find(".attn_q.") != std::string::npos;
        const bool is_k = g.find(".attn_k.") != std::string::npos;
        if (!is_q && !is_k) return t;
        return unpermute(t, is_q ? n_head_ : n_head_kv_, g);
    }

private:
    // convert_hf_to_gguf stores row (h, i, j) of a head (half = head_dim/2, i < half, j < 2) at
    // h*head_dim + 2i + j, taken from HF row h*head_dim + j*half + i (interleaved rotary pairs).
    // Whole rows move, so quantized rows move block for block.
    Result<Tensor> unpermute(const Tensor& t, int heads, const std::string& name) const {
        const int64_t rows = t.dim(0);
        if (heads <= 0 || rows % (2 * heads) != 0) {
            return invalid_argument(file_.path() + ": tensor " + name + " has " + std::to_string(rows) +
                                    " rows, not a multiple of 2 x " + std::to_string(heads) + " heads");
        }
        const int64_t head_dim = rows / heads, half = head_dim / 2;
        const int64_t row_bytes = t.nbytes() / rows;
        Tensor out = Tensor::zeros(t.dtype(), t.shape());
        const auto* src = t.data<uint8_t>();
        auto* dst = out.data<uint8_t>();
        for (int64_t h = 0; h < heads; ++h) {
            for (int64_t i = 0; i < half; ++i) {
                for (int64_t j = 0; j < 2; ++j) {
                    const int64_t from = h * head_dim + 2 * i + j, to = h * head_dim + j * half + i;
                    std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
                }
            }
        }
        return out;
    }

    GgufFile file_;
    const ArchMap& arch_;
    json config_;
    json gen_;
    int n_head_;
    int n_head_kv_;
};

// Copies an optional metadata number into the config; a present key of the wrong type is an error.
Status copy_int(const GgufFile& f, const std::string& key, json& cfg, const char* field) {
    if (!f.has(key)) return Status::ok();
    KITE_ASSIGN_OR_RETURN(int64_t v, f.get_int(key));
    cfg[field] = v;
    return Status::ok();
}
Status copy_float(const GgufFile& f, const std::string& key, json& cfg, const char* field) {
    if (!f.has(key)) return Status::ok();
    KITE_ASSIGN_OR_RETURN(double v, f.get_float(key));
    cfg[field] = v;
    return Status::ok();
}

Status rope_scaling(const GgufFile& f, const std::string& a, json& cfg) {
    if (f.find_tensor("rope_freqs.weight") != nullptr) {
        return unimplemented(f.path() + ": per-dimension rope frequency factors (rope_freqs.weight, Llama 3.1 style "
                                        "rope scaling) are not supported for GGUF files yet");
    }
    if (!f.has(a + ".rope.scaling.type")) return Status::ok();
    KITE_ASSIGN_OR_RETURN(std::string type, f.get_string(a + ".rope.scaling.type"));
    if (type == "none") return Status::ok();
    json rs = json::object();
    if (type == "linear" || type == "yarn") {
        rs["rope_type"] = type;
    } else {
        return unimplemented(f.path() + ": " + a + ".rope.scaling.type '" + type + "' is not supported (linear, yarn)");
    }
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".rope.scaling.factor", rs, "factor"));
    KITE_RETURN_IF_ERROR(copy_int(f, a + ".rope.scaling.original_context_length", rs, "original_max_position_embeddings"));
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".rope.scaling.yarn_beta_fast", rs, "beta_fast"));
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".rope.scaling.yarn_beta_slow", rs, "beta_slow"));
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".rope.scaling.attn_factor", rs, "attention_factor"));
    cfg["rope_scaling"] = rs;
    return Status::ok();
}

// The config.json a Hugging Face checkpoint of this model would carry.
Status build_config(const GgufFile& f, const ArchMap& arch, json& cfg, json& gen, int& n_head, int& n_head_kv) {
    const std::string a = arch.gguf;
    cfg = json::object();
    cfg["architectures"] = json::array({arch.hf});
    cfg["model_type"] = arch.model_type;
    KITE_ASSIGN_OR_RETURN(int64_t hidden, f.get_int(a + ".embedding_length"));
    KITE_ASSIGN_OR_RETURN(int64_t layers, f.get_int(a + ".block_count"));
    KITE_ASSIGN_OR_RETURN(int64_t ffn, f.get_int(a + ".feed_forward_length"));
    KITE_ASSIGN_OR_RETURN(int64_t heads, f.get_int(a + ".attention.head_count"));
    int64_t kv_heads = heads;
    if (f.has(a + ".attention.head_count_kv")) {
        KITE_ASSIGN_OR_RETURN(kv_heads, f.get_int(a + ".attention.head_count_kv"));
    }
    if (heads <= 0 || kv_heads <= 0 || heads > 65536 || kv_heads > heads) {
        return invalid_argument(f.path() + ": " + a + ".attention.head_count = " + std::to_string(heads) +
                                " / head_count_kv = " + std::to_string(kv_heads) + " are not valid head counts");
    }
    n_head = static_cast<int>(heads);
    n_head_kv = static_cast<int>(kv_heads);
    cfg["hidden_size"] = hidden;
    cfg["num_hidden_layers"] = layers;
    cfg["intermediate_size"] = ffn;
    cfg["num_attention_heads"] = heads;
    cfg["num_key_value_heads"] = kv_heads;
    cfg["hidden_act"] = "silu";
    cfg["rope_theta"] = 10000.0;
    KITE_RETURN_IF_ERROR(copy_int(f, a + ".context_length", cfg, "max_position_embeddings"));
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".attention.layer_norm_rms_epsilon", cfg, "rms_norm_eps"));
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".rope.freq_base", cfg, "rope_theta"));
    KITE_RETURN_IF_ERROR(copy_int(f, a + ".attention.key_length", cfg, "head_dim"));
    const int64_t head_dim = cfg.contains("head_dim") ? cfg["head_dim"].get<int64_t>() : hidden / heads;
    if (f.has(a + ".rope.dimension_count")) {
        KITE_ASSIGN_OR_RETURN(int64_t rot, f.get_int(a + ".rope.dimension_count"));
        if (rot > 0 && rot < head_dim) cfg["partial_rotary_factor"] = static_cast<double>(rot) / head_dim;
    }
    KITE_RETURN_IF_ERROR(rope_scaling(f, a, cfg));
    // The vocabulary is the embedding table's row count (the token list may be padded or absent).
    if (const GgufTensorInfo* emb = f.find_tensor("token_embd.weight"); emb != nullptr && emb->shape.size() == 2) {
        cfg["vocab_size"] = emb->shape[0];
    } else if (f.has("tokenizer.ggml.tokens")) {
        KITE_ASSIGN_OR_RETURN(const auto* toks, f.get_strings("tokenizer.ggml.tokens"));
        cfg["vocab_size"] = toks->size();
    } else {
        KITE_RETURN_IF_ERROR(copy_int(f, a + ".vocab_size", cfg, "vocab_size"));
    }
    cfg["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
    if (std::string(arch.gguf) == "qwen2" && f.find_tensor("blk.0.attn_q.bias") == nullptr) {
        return invalid_argument(f.path() + ": qwen2 GGUF without blk.0.attn_q.bias (Qwen2 has q/k/v biases)");
    }
    if (std::string(arch.gguf) == "qwen3" && f.find_tensor("blk.0.attn_q.bias") != nullptr) cfg["attention_bias"] = true;
    gen = json::object();
    KITE_RETURN_IF_ERROR(copy_int(f, "tokenizer.ggml.bos_token_id", cfg, "bos_token_id"));
    KITE_RETURN_IF_ERROR(copy_int(f, "tokenizer.ggml.eos_token_id", cfg, "eos_token_id"));
    KITE_RETURN_IF_ERROR(copy_int(f, "tokenizer.ggml.padding_token_id", cfg, "pad_token_id"));
    // Generation stops at EOS and at the end-of-turn / end-of-message tokens llama.cpp also honours.
    json eos = json::array();
    for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
        if (!f.has(key)) continue;
        KITE_ASSIGN_OR_RETURN(int64_t id, f.get_int(key));
        if (std::find(eos.begin(), eos.end(), json(id)) == eos.end()) eos.push_back(id);
    }
    if (!eos.empty()) gen["eos_token_id"] = eos.size() == 1 ? eos[0] : eos;
    if (cfg.contains("bos_token_id")) gen["bos_token_id"] = cfg["bos_token_id"];
    return Status::ok();
}

}  // namespace

Result<std::unique_ptr<WeightSource>> open_gguf_source(const std::string& path) {
    KITE_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
    KITE_ASSIGN_OR_RETURN(std::string arch_name, file.get_string("general.architecture"));
    const ArchMap* arch = nullptr;
    for (const auto& a : kArchs) {
        if (arch_name == a.gguf) arch = &a;
    }
    if (arch == nullptr) {
        return unimplemented(path + ": GGUF architecture '" + arch_name + "' is not supported (llama, mistral, qwen2, qwen3)");
    }
    json cfg, gen;
    int n_head = 0, n_head_kv = 0;
    KITE_RETURN_IF_ERROR(build_config(file, *arch, cfg, gen, n_head, n_head_kv));
    return std::unique_ptr<WeightSource>(
        std::make_unique<GgufSource>(std::move(file), *arch, std::move(cfg), std::move(gen), n_head, n_head_kv));
}

}  // namespace kite
