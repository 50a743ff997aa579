#include "model/weight_loader.h"

#include <cmath>
#include <cstring>
#include <functional>

#include "core/parallel.h"

#include "ops/quant.h"

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

bool WeightLoader::has(const std::string& name) const { return options_.dummy_weights ? false : source_->has(name); }

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

Result<Weight> WeightLoader::linear(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t in) {
    std::vector<Tensor> parts;
    int64_t total_rows = 0;
    for (size_t i = 0; i < names.size(); ++i) {
        KITE_ASSIGN_OR_RETURN(Tensor t, fetch(names[i], {rows[i], in}, /*allow_quantized=*/true));
        total_rows += rows[i];
        parts.push_back(std::move(t));
    }
    if (parts.size() == 1) return Weight{parts[0]};
    // Stack by rows when every part has the same storage type; else fall back to f32.
    DType dt = parts[0].dtype();
    for (const Tensor& p : parts) {
        if (p.dtype() != dt) dt = DType::kF32;
    }
    if (dt == DType::kF32) {
        for (Tensor& p : parts) {
            if (p.dtype() != DType::kF32) {
                KITE_ASSIGN_OR_RETURN(p, to_f32(p, "weight"));
            }
        }
    }
    Tensor out = Tensor::zeros(dt, {total_rows, in});
    auto* dst = static_cast<uint8_t*>(out.raw());
    for (const Tensor& p : parts) {
        std::memcpy(dst, p.raw(), p.nbytes());
        dst += p.nbytes();
    }
    return Weight{out};
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
