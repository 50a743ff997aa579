// load_model: picks the weight source by path (folder or .gguf), parses the config, finds the
// architecture in the registry and lets it build itself.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "model/blocks/decoder.h"
#include "model/gguf_tokenizer.h"
#include "model/registry.h"
#include "model/weight_source.h"
#include "ops/ops.h"

namespace kite {

namespace {

bool is_gguf_path(const std::string& path) {
    return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0 && !std::filesystem::is_directory(path);
}

// --load-format dummy: only config.json is read; WeightLoader makes the weights.
class ConfigOnlySource final : public WeightSource {
public:
    explicit ConfigOnlySource(nlohmann::json config) : config_(std::move(config)) {}
    bool has(const std::string&) const override { return false; }
    Result<Tensor> get(const std::string& name) const override { return not_found("dummy weights: no tensor " + name); }
    std::string location(const std::string&) const override { return "dummy weights"; }
    const nlohmann::json& config_json() const override { return config_; }
    const nlohmann::json& generation_config_json() const override { return null_; }

private:
    nlohmann::json config_, null_;
};

Result<std::unique_ptr<WeightSource>> open_source(const std::string& path, bool config_only = false) {
    if (is_gguf_path(path)) return open_gguf_source(path);
    if (config_only) {
        const std::string file = std::filesystem::is_directory(path) ? path + "/config.json" : path;
        KITE_ASSIGN_OR_RETURN(nlohmann::json config, read_json_file(file));
        return std::unique_ptr<WeightSource>(std::make_unique<ConfigOnlySource>(std::move(config)));
    }
    return open_safetensors_folder(path);
}

std::string config_name(const std::string& path) {
    return is_gguf_path(path) ? path + " (metadata)" : (std::filesystem::path(path) / "config.json").string();
}

}  // namespace

KvCacheShape Model::kv_shape(int num_blocks, int block_size) const {
    KvCacheShape s;
    s.num_layers = config().num_layers;
    s.num_blocks = num_blocks;
    s.block_size = block_size;
    s.num_kv_heads = config().num_kv_heads;
    s.head_dim = config().head_dim;
    s.pools_per_layer = config().kv_pools_per_layer;
    s.device = device();  // a CUDA model gets its KV pools on the GPU with no change at call sites
    s.kv_dtype = kv_cache_dtype_;
    if (s.kv_dtype != ops::KvCacheDtype::kAuto) s.dtype = s.kv_dtype == ops::KvCacheDtype::kInt8 ? DType::kI8 : DType::kU8;
    return s;
}

Result<std::unique_ptr<Model>> load_model(const std::string& path, const LoadOptions& options) {
    KITE_ASSIGN_OR_RETURN(Checkpoint c, load_checkpoint(path, options, /*load_tokenizer=*/false));
    return std::move(c.model);
}

Result<Checkpoint> load_checkpoint(const std::string& path, const LoadOptions& options, bool load_tokenizer) {
    KITE_ASSIGN_OR_RETURN(auto source, open_source(path, options.dummy_weights));
    const std::string src = config_name(path);
    const nlohmann::json& j = source->config_json();
    if (!j.is_object()) return invalid_argument(src + ": expected a JSON object");
    auto archs = j.find("architectures");
    if (archs == j.end() || !archs->is_array() || archs->empty() || !(*archs)[0].is_string())
        return invalid_argument(src + ": missing \"architectures\" (expected e.g. [\"LlamaForCausalLM\"])");
    const std::string name = (*archs)[0].get<std::string>();
    const ArchDef* arch = find_architecture(name);
    if (arch == nullptr)
        return unimplemented(src + ": architecture " + name + " is not supported (supported: " +
                             supported_architectures() + ")");
    KITE_ASSIGN_OR_RETURN(DecoderSpec spec, arch->describe(j, src));
    for (const LayerSpec& layer : spec.layers) {  // an unknown activation names the config, not a layer
        if (layer.make_ffn) continue;
        auto act = ops::activation_from_name(layer.mlp.act);
        if (!act.ok()) return Status(act.status().code(), src + ": " + act.status().message());
    }
    spec.config.architecture = name;
    if (spec.config.model_type.empty()) spec.config.model_type = arch->model_type;
    Checkpoint c;
    auto gen = parse_generation_config(source->generation_config_json(), path);
    if (gen.ok()) c.defaults = *gen;
    if (spec.config.eos_token_ids.empty()) spec.config.eos_token_ids = c.defaults.eos_token_ids;
    if (load_tokenizer) {
        // A GGUF file's tokenizer comes from the metadata already read; a folder's from its files.
        auto tok = source->gguf_file() ? tokenizer_from_gguf(*source->gguf_file()) : load_model_tokenizer(path);
        if (tok.ok()) c.tokenizer = *tok;
        else c.tokenizer_error = tok.status().message();
    }
    KITE_ASSIGN_OR_RETURN(c.model, make_decoder(std::move(spec), *source, options));
    if (options.kv_cache_dtype != ops::KvCacheDtype::kAuto && options.device != Device::kCpu)
        return unimplemented("--kv-cache-dtype int8/fp8 has no CUDA kernels yet (use auto with --device cuda)");
    c.model->set_kv_cache_dtype(options.kv_cache_dtype);
    return c;
}

}  // namespace kite
