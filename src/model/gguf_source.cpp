// open_gguf_source: a GGUF file seen as a Hugging Face checkpoint. The family (general.architecture)
// is found in the registry; common metadata becomes a config.json equivalent here, the family's
// GgufArch (in model/arch/<family>.cpp) adds its own fields, maps HF tensor names to llama.cpp's and
// undoes any reordering its converter applied (Llama's Q/K row permutation).
#include <cstring>
#include <algorithm>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/registry.h"
#include "model/weight_source.h"

namespace kite {

namespace {

using json = nlohmann::json;

// HF name -> GGUF name by the family's tables; "" when the family has no such tensor.
std::string gguf_name(const GgufArch& arch, const std::string& hf) {
    for (const auto& [h, g] : arch.globals) {
        if (hf == h) return g;
    }
    const std::string prefix = arch.layer_prefix;
    if (hf.rfind(prefix, 0) != 0) return "";
    const size_t dot = hf.find('.', prefix.size());
    if (dot == std::string::npos || dot == prefix.size()) return "";
    const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
    if (layer.find_first_not_of("0123456789") != std::string::npos) return "";
    const std::string rest = hf.substr(dot + 1);
    for (const auto& [h, g] : arch.layer) {
        if (rest == h) return "blk." + layer + "." + g;
    }
    return "";
}

class GgufSource : public WeightSource {
public:
    GgufSource(GgufFile file, const GgufArch& arch, json config, json gen)
        : file_(std::move(file)), arch_(arch), config_(std::move(config)), gen_(std::move(gen)) {}

    bool has(const std::string& hf_name) const override {
        const std::string g = gguf_name(arch_, hf_name);
        return !g.empty() && file_.find_tensor(g) != nullptr;
    }

    std::string location(const std::string& hf_name) const override {
        const std::string g = gguf_name(arch_, hf_name);
        return file_.path() + (g.empty() ? "" : " (tensor " + g + ")");
    }

    const json& config_json() const override { return config_; }
    const json& generation_config_json() const override { return gen_; }
    const GgufFile* gguf_file() const override { return &file_; }

    Result<Tensor> get(const std::string& hf_name) const override {
        const std::string g = gguf_name(arch_, hf_name);
        if (g.empty()) return not_found(file_.path() + ": no GGUF tensor corresponds to '" + hf_name + "'");
        if (file_.find_tensor(g) == nullptr) {
            return not_found(file_.path() + ": tensor " + g + " (for " + hf_name + ") is missing");
        }
        KITE_ASSIGN_OR_RETURN(Tensor t, file_.tensor(g));
        if (arch_.to_hf == nullptr) return t;
        return arch_.to_hf(file_, config_, g, std::move(t));
    }

private:
    GgufFile file_;
    const GgufArch& arch_;
    json config_;
    json gen_;
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
Status build_config(const GgufFile& f, const ArchDef& arch, json& cfg, json& gen) {
    const std::string a = arch.gguf->name;
    cfg = json::object();
    cfg["architectures"] = json::array({arch.hf_name});
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
    cfg["hidden_size"] = hidden;
    cfg["num_hidden_layers"] = layers;
    cfg["intermediate_size"] = ffn;
    cfg["num_attention_heads"] = heads;
    cfg["num_key_value_heads"] = kv_heads;
    cfg["hidden_act"] = "silu";
    cfg["rope_theta"] = 10000.0;
    KITE_RETURN_IF_ERROR(copy_int(f, a + ".context_length", cfg, "max_position_embeddings"));
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".attention.layer_norm_rms_epsilon", cfg, "rms_norm_eps"));
    // LayerNorm families: the family's config hook moves it to the field its config.json uses.
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".attention.layer_norm_epsilon", cfg, "layer_norm_eps"));
    KITE_RETURN_IF_ERROR(copy_float(f, a + ".rope.freq_base", cfg, "rope_theta"));
    KITE_RETURN_IF_ERROR(copy_int(f, a + ".attention.key_length", cfg, "head_dim"));
    KITE_RETURN_IF_ERROR(copy_int(f, a + ".attention.sliding_window", cfg, "sliding_window"));
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
    if (arch.gguf->config != nullptr) KITE_RETURN_IF_ERROR(arch.gguf->config(f, cfg));
    return Status::ok();
}

}  // namespace

Result<std::unique_ptr<WeightSource>> open_gguf_source(const std::string& path) {
    KITE_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
    KITE_ASSIGN_OR_RETURN(std::string arch_name, file.get_string("general.architecture"));
    const ArchDef* arch = find_gguf_architecture(arch_name);
    if (arch == nullptr) {
        return unimplemented(path + ": GGUF architecture '" + arch_name + "' is not supported (" +
                             supported_gguf_architectures() + ")");
    }
    json cfg, gen;
    KITE_RETURN_IF_ERROR(build_config(file, *arch, cfg, gen));
    return std::unique_ptr<WeightSource>(
        std::make_unique<GgufSource>(std::move(file), *arch->gguf, std::move(cfg), std::move(gen)));
}

}  // namespace kite
