#include "model/weight_loader.h"

#include <cstring>
#include <functional>
#include <random>

#include "ops/quant.h"
#include "ops/wq.h"

namespace kite {

Result<Tensor> to_f32(const Tensor& t, const std::string& what) {
    Tensor out = Tensor::zeros(DType::kF32, t.shape());
    const int64_t n = t.numel();
    float* o = out.data<float>();
    switch (t.dtype()) {
        case DType::kF32: std::memcpy(o, t.raw(), n * sizeof(float)); break;
        case DType::kF16: {
            const auto* p = static_cast<const uint16_t*>(t.raw());
            for (int64_t i = 0; i < n; ++i) o[i] = f16_to_f32(p[i]);
            break;
        }
        case DType::kBF16: {
            const auto* p = static_cast<const uint16_t*>(t.raw());
            for (int64_t i = 0; i < n; ++i) o[i] = bf16_to_f32(p[i]);
            break;
        }
        default:
            if (!dtype_is_quantized(t.dtype()))
                return invalid_argument(what + ": dtype " + dtype_name(t.dtype()) + " cannot hold weights (expected f32, f16, bf16 or a GGUF type)");
            KITE_RETURN_IF_ERROR(ops::dequantize(t.dtype(), t.raw(), o, n));
    }
    return out;
}

bool WeightLoader::has(const std::string& name) const {
    return options_.dummy_weights ? false : source_->has(name) || has_packed_linear(*source_, name);
}

Result<Tensor> WeightLoader::fetch(const std::string& name, const std::vector<int64_t>& shape, bool allow_quantized) {
    if (options_.dummy_weights) {
        Tensor t = Tensor::zeros(DType::kF32, shape);
        std::mt19937_64 gen(options_.dummy_seed ^ std::hash<std::string>{}(name));
        std::normal_distribution<float> dist(0.0f, 0.02f);
        float* p = t.data<float>();
        const bool is_norm = shape.size() == 1 && name.find("norm") != std::string::npos;
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = is_norm ? 1.0f : dist(gen);
        return t;
    }
    const std::string want = Tensor::view(nullptr, DType::kF32, shape, nullptr).shape_string();
    if (!source_->has(name)) return not_found("checkpoint has no tensor " + name + " (expected shape " + want + ")");
    KITE_ASSIGN_OR_RETURN(Tensor t, source_->get(name));
    if (t.shape() != shape)
        return invalid_argument(source_->location(name) + ": tensor " + name + " has shape " + t.shape_string() +
                                ", expected " + want);
    // Load-time quantization starts from f32, whatever the checkpoint stores.
    if (allow_quantized && options_.keep_quantized && options_.quant_bits == 0 && dtype_is_quantized(t.dtype())) return t;
    return to_f32(t, source_->location(name) + ": tensor " + name);
}

Status WeightLoader::parse_quant_config() {
    if (quant_parsed_) return Status::ok();
    quant_parsed_ = true;
    KITE_ASSIGN_OR_RETURN(checkpoint_quant_, parse_checkpoint_quant(source_->config_json(), "config.json"));
    if (checkpoint_quant_.method != CheckpointQuant::Method::kNone && options_.quant_bits != 0)
        return invalid_argument(std::string("config.json: the checkpoint is already quantized (quantization_config.quant_method ") +
                                checkpoint_quant_.name() + "); drop --quantization");
    return Status::ok();
}

Result<Weight> WeightLoader::linear_part(const std::string& name, int64_t rows, int64_t in) {
    if (!options_.dummy_weights && !source_->has(name) && has_packed_linear(*source_, name))
        return load_packed_linear(*source_, checkpoint_quant_, name, rows, in);
    KITE_ASSIGN_OR_RETURN(Tensor t, fetch(name, {rows, in}, /*allow_quantized=*/true));
    return Weight{t};
}

// Dense parts stacked by rows: kept in their storage type when all parts share it, else f32.
Result<Weight> WeightLoader::stack_dense(std::vector<Weight> parts, int64_t in) {
    for (Weight& p : parts) {
        if (p.is_int_quantized()) p = Weight{ops::dequantize_weight(p)};
    }
    if (parts.size() == 1) return parts[0];
    DType dt = parts[0].t.dtype();
    int64_t total_rows = 0;
    for (const Weight& p : parts) {
        if (p.t.dtype() != dt) dt = DType::kF32;
        total_rows += p.out_features();
    }
    if (dt == DType::kF32) {
        for (Weight& p : parts) {
            if (p.t.dtype() != DType::kF32) {
                KITE_ASSIGN_OR_RETURN(p.t, to_f32(p.t, "weight"));
            }
        }
    }
    Tensor out = Tensor::zeros(dt, {total_rows, in});
    auto* dst = static_cast<uint8_t*>(out.raw());
    for (const Weight& p : parts) {
        std::memcpy(dst, p.t.raw(), p.t.nbytes());
        dst += p.t.nbytes();
    }
    return Weight{out};
}

Result<Weight> WeightLoader::linear(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t in) {
    KITE_RETURN_IF_ERROR(parse_quant_config());
    std::vector<Weight> parts;
    bool all_int = true;
    for (size_t i = 0; i < names.size(); ++i) {
        KITE_ASSIGN_OR_RETURN(Weight p, linear_part(names[i], rows[i], in));
        all_int = all_int && p.is_int_quantized();
        parts.push_back(std::move(p));
    }
    if (all_int) {
        if (parts.size() == 1) return parts[0];
        auto stacked = ops::stack_int_weights(parts, names[0]);
        if (stacked.ok()) return stacked;  // else the parts differ in layout: computed densely below
    }
    KITE_ASSIGN_OR_RETURN(Weight w, stack_dense(std::move(parts), in));
    // The output head stays unquantized, as rtp-llm's and vLLM's weight-only schemes leave it.
    if (options_.quant_bits == 0 || names[0] == "lm_head.weight") return w;
    if (w.t.dtype() != DType::kF32) {
        KITE_ASSIGN_OR_RETURN(w.t, to_f32(w.t, names[0]));
    }
    ops::IntQuantScheme scheme{options_.quant_bits, options_.quant_group_size, options_.quant_zero_point};
    return ops::quantize_weight(w.t, scheme, names[0]);
}

Result<Tensor> WeightLoader::table(const std::string& name, int64_t rows, int64_t cols) {
    return fetch(name, {rows, cols}, /*allow_quantized=*/true);
}

Result<Tensor> WeightLoader::vector_f32(const std::vector<std::string>& names, const std::vector<int64_t>& sizes) {
    int64_t total = 0;
    for (int64_t s : sizes) total += s;
    Tensor out = Tensor::zeros(DType::kF32, {total});
    float* dst = out.data<float>();
    for (size_t i = 0; i < names.size(); ++i) {
        KITE_ASSIGN_OR_RETURN(Tensor t, fetch(names[i], {sizes[i]}, /*allow_quantized=*/false));
        std::memcpy(dst, t.raw(), sizes[i] * sizeof(float));
        dst += sizes[i];
    }
    return out;
}

}  // namespace kite
