#include "model/blocks/expert_set.h"

#include <cstring>

namespace kite {

namespace {

// Copies one expert's [rows, in] matrix into slot e of a stacked [count, rows, in] tensor.
void put_expert(Tensor& stacked, int64_t e, const Tensor& m) {
    std::memcpy(stacked.data<uint8_t>() + e * m.nbytes(), m.raw(), static_cast<size_t>(m.nbytes()));
}

}  // namespace

Result<ExpertSet> ExpertSet::load(const ExpertNames& names, int num_experts, int first, int count, int64_t H,
                                  int64_t I, ops::Activation act, WeightLoader& loader) {
    if (first < 0 || count <= 0 || first + count > num_experts)
        return invalid_argument("experts [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                ") are not within the layer's " + std::to_string(num_experts));
    ExpertSet s;
    s.w_.first_expert = first;
    s.w_.act = act;
    // Stacked (transformers 5): take the rows of the experts held.
    for (const std::string& p : names.prefixes) {
        if (!loader.has(p + "gate_up_proj")) continue;
        KITE_ASSIGN_OR_RETURN(Tensor gu, loader.tensor(p + "gate_up_proj", {num_experts, 2 * I, H}));
        KITE_ASSIGN_OR_RETURN(Tensor dn, loader.tensor(p + "down_proj", {num_experts, H, I}));
        if (first == 0 && count == num_experts) {
            s.w_.gate_up = gu;
            s.w_.down = dn;
        } else {
            s.w_.gate_up = gu.reshape({int64_t(num_experts), 2 * I * H}).slice_rows(first, first + count).reshape({count, 2 * I, H});
            s.w_.down = dn.reshape({int64_t(num_experts), H * I}).slice_rows(first, first + count).reshape({count, H, I});
        }
        return s;
    }
    // Gate and up stacked apart (GGUF): interleave them per expert into [gate_e; up_e]. Whole rows
    // move, so quantized rows move block for block.
    for (const std::string& p : names.prefixes) {
        if (!loader.has(p + "gate_proj")) continue;
        KITE_ASSIGN_OR_RETURN(Tensor g, loader.tensor(p + "gate_proj", {num_experts, I, H}));
        KITE_ASSIGN_OR_RETURN(Tensor u, loader.tensor(p + "up_proj", {num_experts, I, H}));
        KITE_ASSIGN_OR_RETURN(Tensor dn, loader.tensor(p + "down_proj", {num_experts, H, I}));
        if (g.dtype() != u.dtype()) return invalid_argument(p + "gate_proj and up_proj differ in storage type");
        const int64_t half = g.nbytes() / num_experts;
        s.w_.gate_up = Tensor::zeros(g.dtype(), {count, 2 * I, H});
        for (int e = 0; e < count; ++e) {
            uint8_t* dst = s.w_.gate_up.data<uint8_t>() + e * 2 * half;
            std::memcpy(dst, g.data<uint8_t>() + (first + e) * half, half);
            std::memcpy(dst + half, u.data<uint8_t>() + (first + e) * half, half);
        }
        s.w_.down = dn.reshape({int64_t(num_experts), H * I}).slice_rows(first, first + count).reshape({count, H, I});
        return s;
    }
    // One module per expert (also the dummy-weights path: nothing is "present" there).
    std::string p = names.prefixes.front();
    for (auto q = names.prefixes.rbegin(); q != names.prefixes.rend(); ++q) {
        if (loader.has(*q + std::to_string(first) + "." + names.gate)) p = *q;  // the first present wins
    }
    for (int e = 0; e < count; ++e) {
        const std::string m = p + std::to_string(first + e) + ".";
        KITE_ASSIGN_OR_RETURN(Weight gu, loader.linear({m + names.gate, m + names.up}, {I, I}, H));
        KITE_ASSIGN_OR_RETURN(Weight dn, loader.linear({m + names.down}, {H}, I));
        if (e == 0) {
            s.w_.gate_up = Tensor::zeros(gu.t.dtype(), {count, 2 * I, H});
            s.w_.down = Tensor::zeros(dn.t.dtype(), {count, H, I});
        }
        if (gu.t.dtype() != s.w_.gate_up.dtype() || dn.t.dtype() != s.w_.down.dtype())
            return invalid_argument(m + "*: experts of one layer must share a storage type");
        put_expert(s.w_.gate_up, e, gu.t);
        put_expert(s.w_.down, e, dn.t);
    }
    return s;
}

Status LocalExpertDispatch::run(const Tensor& x, const ops::Routing& routing, const ExpertSet& local, Tensor& out) {
    return ops::moe_experts(x, routing, local.weights(), out);
}

}  // namespace kite
