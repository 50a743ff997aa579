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
}

Result<LoadOptions> load_options_from_flags(const Flags& f) {
    LoadOptions lo;
    lo.keep_quantized = f.get_switch("keep-quantized");
    KITE_ASSIGN_OR_RETURN(lo.device, parse_device(f.get_or("device", "cpu")));
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
