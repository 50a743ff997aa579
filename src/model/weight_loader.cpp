#include "model/weight_loader.h"

#include <cmath>
#include <cstring>
#include <functional>

#include "core/parallel.h"

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

namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

}  // namespace

// N(0, 0.02) values (norm weights 1), each pair a pure function of (seed, index), so the fill runs
// on every core (an 8B model's 8e9 values in seconds, not minutes on one thread) and gives the same
// weights whatever the thread count.
void fill_dummy(float* p, int64_t n, uint64_t seed, bool ones) {
    parallel_for((n + 1) / 2, int64_t{1} << 16, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) {
            const uint64_t r = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(k)));
            // Box-Muller on two 24-bit uniforms in (0, 1].
            const float u1 = (float((r >> 40) & 0xffffff) + 1.0f) * (1.0f / 16777216.0f);
            const float u2 = float((r >> 8) & 0xffffff) * (1.0f / 16777216.0f);
            const float rad = 0.02f * std::sqrt(-2.0f * std::log(u1));
            const float a = 6.2831853f * u2;
            const int64_t i = 2 * k;
            p[i] = ones ? 1.0f : rad * std::cos(a);
            if (i + 1 < n) p[i + 1] = ones ? 1.0f : rad * std::sin(a);
        }
    });
}

bool WeightLoader::has(const std::string& name) const {
    return options_.dummy_weights ? false : source_->has(name) || has_packed_linear(*source_, name);
}

Result<Tensor> WeightLoader::fetch(const std::string& name, const std::vector<int64_t>& shape, bool allow_quantized) {
    if (options_.dummy_weights) {
        Tensor t = Tensor::empty(DType::kF32, shape);
        fill_dummy(t.data<float>(), t.numel(), options_.dummy_seed ^ std::hash<std::string>{}(name),
                   shape.size() == 1 && name.find("norm") != std::string::npos);
        return t;
    }
    const std::string want = Tensor::view(nullptr, DType::kF32, shape, nullptr).shape_string();
    if (!source_->has(name)) return not_found("checkpoint has no tensor " + name + " (expected shape " + want + ")");
    KITE_ASSIGN_OR_RETURN(Tensor t, source_->get(name));
    if (t.shape() != shape)
        return invalid_argument(source_->location(name) + ": tensor " + name + " has shape " + t.shape_string() +
                                ", expected " + want);
    if (allow_quantized && options_.keep_quantized && dtype_is_quantized(t.dtype())) return t;
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
    // Load-time quantization starts from f32, whatever blocks the checkpoint stores.
    KITE_ASSIGN_OR_RETURN(Tensor t, fetch(name, {rows, in}, /*allow_quantized=*/options_.quant_bits == 0 || name == "lm_head.weight"));
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

Result<Tensor> WeightLoader::tensor(const std::string& name, const std::vector<int64_t>& shape) {
    return fetch(name, shape, /*allow_quantized=*/true);
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
