#include "cli/model_session.h"

#include "core/device.h"
#include "model/gguf_tokenizer.h"

namespace kite::cli {

Result<Device> parse_device(const std::string& name) {
    if (name == "cpu") return Device::kCpu;
    if (name != "cuda") return invalid_argument("--device: expected cpu or cuda, got '" + name + "'");
    std::string why;
    if (!cuda_available(&why)) return unavailable("--device cuda: " + why);
    return Device::kCuda;
}

void declare_load_flags(Flags& f) {
    f.add("device", "cpu|cuda", "where the model runs (default cpu)", "KITE_DEVICE");
    f.add_switch("keep-quantized", "GGUF: compute on the quantized blocks instead of dequantizing at load",
                 "KITE_KEEP_QUANTIZED");
    f.add("quantization", "int8|int4", "quantize every linear but the output head at load, weight-only (fp8: GPU only)");
    f.add("quant-group-size", "G", "inputs per scale: int4 default 128, int8 default one per output channel; -1: per channel");
    f.add("kv-cache-dtype", "auto|int8|fp8", "K/V cache storage: f32 (auto), or 8-bit codes with a scale per token and head (CPU)",
          "KV_CACHE_DTYPE");
    f.add_switch("quant-zero-point", "with --quantization: asymmetric, a zero point per group (default symmetric)");
}

Result<LoadOptions> load_options_from_flags(const Flags& f) {
    LoadOptions lo;
    lo.keep_quantized = f.get_switch("keep-quantized");
    KITE_ASSIGN_OR_RETURN(lo.device, parse_device(f.get_or("device", "cpu")));
    if (auto q = f.get("quantization")) {
        if (*q == "int8") lo.quant_bits = 8;
        else if (*q == "int4") lo.quant_bits = 4;
        else if (*q == "fp8") return unimplemented("--quantization fp8 needs a GPU build (no CPU FP8 path); use int8 or int4");
        else return invalid_argument("--quantization: expected int8, int4 or fp8, got '" + *q + "'");
    } else if (f.has("quant-group-size") || f.get_switch("quant-zero-point")) {
        return invalid_argument("--quant-group-size and --quant-zero-point need --quantization int8|int4");
    }
    KITE_ASSIGN_OR_RETURN(lo.quant_group_size, f.get_int("quant-group-size", lo.quant_bits == 4 ? 128 : -1, -1, 1 << 24));
    if (lo.quant_group_size == 0 || (lo.quant_group_size > 0 && lo.quant_group_size % 8 != 0))
        return invalid_argument("--quant-group-size " + std::to_string(lo.quant_group_size) +
                                ": expected a positive multiple of 8, or -1 for one scale per output channel");
    lo.quant_zero_point = f.get_switch("quant-zero-point");
    const std::string kvd = f.get_or("kv-cache-dtype", "auto");
    if (kvd == "int8") lo.kv_cache_dtype = ops::KvCacheDtype::kInt8;
    else if (kvd == "fp8" || kvd == "fp8_e4m3") lo.kv_cache_dtype = ops::KvCacheDtype::kFp8;
    else if (kvd != "auto") return invalid_argument("--kv-cache-dtype: expected auto, int8 or fp8, got '" + kvd + "'");
    return lo;
}

Result<ModelSession> open_model_session(const std::string& model_path, const std::string& tokenizer_path,
                                        const LoadOptions& options) {
    ModelSession s;
    KITE_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, load_model(model_path, options));
    s.model = std::move(model);
    auto tok = load_model_tokenizer(tokenizer_path.empty() ? model_path : tokenizer_path);
    if (tok.ok()) {
        s.tokenizer = *tok;
    } else {
        if (!tokenizer_path.empty()) return tok.status();  // asked for explicitly: a hard error
        s.tokenizer_error = tok.status().message();
    }
    s.defaults = load_generation_defaults(model_path);
    return s;
}

}  // namespace kite::cli
