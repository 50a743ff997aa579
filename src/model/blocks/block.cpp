#include "model/blocks/block.h"
#include "model/lora.h"

#include <cstring>

#include "core/device.h"
#include "ops/ops.h"
#include "ops/wq.h"

namespace kite {

Tensor& Workspace::get(const char* key, std::vector<int64_t> shape) {
    for (Slot& s : slots_) {
        if (s.key == key || std::strcmp(s.key, key) == 0) {
            if (s.t.shape() != shape) s.t = Tensor::empty(DType::kF32, std::move(shape), device_);
            return s.t;
        }
    }
    slots_.push_back({key, Tensor::empty(DType::kF32, std::move(shape), device_)});
    return slots_.back().t;
}

int64_t LinearSpec::out() const {
    int64_t n = 0;
    for (int64_t r : rows) n += r;
    return n;
}

LinearSpec LinearSpec::of(std::vector<std::string> modules, std::vector<int64_t> rows, int64_t in, bool bias) {
    LinearSpec s;
    for (const std::string& m : modules) {
        s.weights.push_back(m + ".weight");
        if (bias) s.biases.push_back(m + ".bias");
    }
    s.rows = std::move(rows);
    s.in = in;
    return s;
}

Tensor permute_rows(const Tensor& t, const std::vector<int64_t>& order) {
    const int64_t rows = t.dim(0), row_bytes = t.nbytes() / rows;
    Tensor out = Tensor::zeros(t.dtype(), t.shape());
    for (int64_t r = 0; r < rows; ++r)
        std::memcpy(out.data<uint8_t>() + r * row_bytes, t.data<uint8_t>() + order[r] * row_bytes, row_bytes);
    return out;
}

std::vector<int64_t> inverse_order(const std::vector<int64_t>& order) {
    std::vector<int64_t> inv(order.size());
    for (size_t i = 0; i < order.size(); ++i) inv[order[i]] = static_cast<int64_t>(i);
    return inv;
}

Result<Linear> Linear::load(const LinearSpec& spec, WeightLoader& loader) {
    Linear l;
    KITE_ASSIGN_OR_RETURN(l.w, loader.linear(spec.weights, spec.rows, spec.in));
    if (!spec.biases.empty()) {
        KITE_ASSIGN_OR_RETURN(l.bias, loader.vector_f32(spec.biases, spec.rows));
    }
    int64_t offset = 0;
    for (size_t i = 0; i < spec.weights.size(); ++i) {
        const std::string& name = spec.weights[i];
        const std::string suffix = ".weight";
        l.modules.push_back(name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0
                                ? name.substr(0, name.size() - suffix.size())
                                : name);
        l.offsets.push_back(offset);
        offset += i < spec.rows.size() ? spec.rows[i] : 0;
    }
    l.reordered = !spec.row_order.empty();
    if (!spec.row_order.empty()) {
        if (static_cast<int64_t>(spec.row_order.size()) != spec.out())
            return internal_error("LinearSpec: row_order has " + std::to_string(spec.row_order.size()) + " rows, expected " +
                                  std::to_string(spec.out()));
        if (l.w.is_int_quantized()) l.w = ops::permute_int_weight_rows(l.w, spec.row_order);
        else l.w.t = permute_rows(l.w.t, spec.row_order);
        if (l.bias.defined()) l.bias = permute_rows(l.bias, spec.row_order);
    }
    return l;
}

Status Linear::forward(const Tensor& x, Tensor& out) const {
    return ops::linear(x, w, bias.defined() ? &bias : nullptr, out);
}

Status Linear::forward(const Tensor& x, Tensor& out, const StepContext& ctx) const {
    KITE_RETURN_IF_ERROR(forward(x, out));
    const ForwardBatch& b = ctx.batch;
    if (b.loras.empty()) return Status::ok();
    for (size_t s = 0; s < b.lora_ids.size(); ++s) {
        const int32_t id = b.lora_ids[s];
        if (id < 0) continue;
        const LoraAdapter& a = *b.loras[static_cast<size_t>(id)];
        for (size_t m = 0; m < modules.size(); ++m) {
            const LoraModule* lm = a.find(modules[m]);
            if (!lm) continue;
            if (reordered) return unimplemented("LoRA on " + modules[m] + ": fused per-head layouts are not supported");
            KITE_RETURN_IF_ERROR(lora_add(*lm, x, b.query_start[s], b.query_start[s + 1], out, offsets[m]));
        }
    }
    return Status::ok();
}

Status take_columns(const Tensor& src, int64_t col, int64_t width, Tensor& dst) {
    const int64_t T = src.dim(0), stride = src.dim(1);
    return copy_rows_2d(dst.data<float>(), width * sizeof(float), src.data<float>() + col, stride * sizeof(float),
                        width * sizeof(float), T, src.device());
}

}  // namespace kite
