#include "cli/model_session.h"

#include "core/device.h"
#include "model/gguf_tokenizer.h"
#include "ops/quant.h"

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
    f.add_switch("dequantize-at-load",
                 "CPU: store GGUF blocks and f16/bf16 weights as f32 at load (same results, ~file size x 2-8 in memory)",
                 "KITE_DEQUANTIZE_AT_LOAD");
    f.add_switch("keep-quantized", "accepted for compatibility: computing on the stored GGUF blocks is the default",
                 "KITE_KEEP_QUANTIZED");
    f.add_switch("cpu-int8-activations",
                 "CPU, GGUF Q4_0/Q4_1/Q5_0/Q5_1/Q8_0: quantize activations to int8 per block of 32 and use integer dot "
                 "products (faster, approximate; the default f32-activation path is exact)",
                 "KITE_CPU_INT8_ACTIVATIONS");
}

Result<LoadOptions> load_options_from_flags(const Flags& f) {
    LoadOptions lo;
    lo.dequantize_at_load = f.get_switch("dequantize-at-load");
    if (lo.dequantize_at_load && f.get_switch("keep-quantized"))
        return invalid_argument("--dequantize-at-load and --keep-quantized contradict each other; pass one");
    KITE_ASSIGN_OR_RETURN(lo.device, parse_device(f.get_or("device", "cpu")));
    const bool int8 = f.get_switch("cpu-int8-activations");
    if (int8 && lo.device != Device::kCpu) return invalid_argument("--cpu-int8-activations applies to --device cpu only");
    if (int8 && lo.dequantize_at_load)
        return invalid_argument("--cpu-int8-activations computes on the stored GGUF blocks; drop --dequantize-at-load");
    ops::set_int8_activations(int8);  // process-wide: one model per process
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
