// Building, quantizing, stacking and dequantizing integer weight-only weights (ops/wq.h).
#include "ops/wq.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace kite::ops {

namespace {

int storage_bits(int bits) { return bits <= 4 ? 4 : 8; }

int64_t row_bytes(int storage, int64_t K) {
    const int64_t words = (K + 7) / 8;  // whole 8-element chunks, so a row's last chunk is addressable
    return storage == 4 ? words * 4 : words * 8;
}

// The part (of a stacked weight with act-order) that row n belongs to.
int64_t part_of(const IntWeightQuant& q, int64_t n) {
    const auto& ends = q.part_end_rows;
    return std::upper_bound(ends.begin(), ends.end(), n) - ends.begin();
}

}  // namespace

float int_weight_value(float scale, float q, float zero, bool round_f16) {
    const float v = scale * (q - zero);
    return round_f16 ? _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT)) : v;  // as the kernels' F16C
}

Result<Weight> make_int_weight(int bits, int64_t N, int64_t K, int64_t group_size, std::span<const uint8_t> q,
                               Tensor scales, Tensor zeros, bool round_f16, Tensor perm, const std::string& what) {
    if (bits < 1 || bits > 8) return invalid_argument(what + ": " + std::to_string(bits) + "-bit weights are not supported (expected 1 to 8 bits)");
    if (N <= 0 || K <= 0) return invalid_argument(what + ": empty weight");
    if (group_size <= 0 || group_size >= K) group_size = K;
    if (group_size != K && group_size % 8 != 0)
        return invalid_argument(what + ": group size " + std::to_string(group_size) + " is not a multiple of 8");
    const int64_t groups = (K + group_size - 1) / group_size;
    if (static_cast<int64_t>(q.size()) != N * K) return invalid_argument(what + ": wrong number of q values");
    for (const Tensor* t : {&scales, &zeros}) {
        if (t->dtype() != DType::kF32 || t->ndim() != 2 || t->dim(0) != N || t->dim(1) != groups)
            return invalid_argument(what + ": scales and zeros must be f32 [" + std::to_string(N) + ", " +
                                    std::to_string(groups) + "], got " + t->shape_string());
    }
    if (perm.defined()) {
        if (perm.dtype() != DType::kI32 || perm.numel() != K) return invalid_argument(what + ": act-order permutation must be i32 [K]");
        std::vector<bool> seen(K, false);
        for (int64_t i = 0; i < K; ++i) {
            const int32_t p = perm.data<int32_t>()[i];
            if (p < 0 || p >= K || seen[p]) return invalid_argument(what + ": act-order permutation is not a permutation of [0, K)");
            seen[p] = true;
        }
    }
    const int storage = storage_bits(bits);
    const int64_t rb = row_bytes(storage, K);
    Tensor t = Tensor::zeros(DType::kU8, {N, rb});
    const uint8_t limit = static_cast<uint8_t>((1u << bits) - 1);
    for (int64_t n = 0; n < N; ++n) {
        uint8_t* row = t.data<uint8_t>() + n * rb;
        const uint8_t* src = q.data() + n * K;
        for (int64_t k = 0; k < K; ++k) {
            if (src[k] > limit) return invalid_argument(what + ": q value " + std::to_string(src[k]) + " does not fit " + std::to_string(bits) + " bits");
            if (storage == 8) row[k] = src[k];
            else row[k / 2] |= static_cast<uint8_t>(src[k] << (4 * (k % 2)));
        }
    }
    Weight w{t};
    w.quant.bits = storage;
    w.quant.in_features = K;
    w.quant.group_size = group_size;
    w.quant.scales = std::move(scales);
    w.quant.zeros = std::move(zeros);
    w.quant.round_f16 = round_f16;
    if (perm.defined()) {
        w.quant.perm = perm.reshape({1, K});
        w.quant.part_end_rows = {N};
    }
    return w;
}

Result<Weight> quantize_weight(const Tensor& w, const IntQuantScheme& s, const std::string& what) {
    if (w.dtype() != DType::kF32 || w.ndim() != 2) return invalid_argument(what + ": quantization needs an f32 [out, in] weight");
    if (s.bits != 4 && s.bits != 8) return invalid_argument(what + ": expected 4 or 8 bits, got " + std::to_string(s.bits));
    const int64_t N = w.dim(0), K = w.dim(1);
    const int64_t G = (s.group_size <= 0 || s.group_size >= K) ? K : s.group_size;
    if (G != K && G % 8 != 0)
        return invalid_argument(what + ": --quant-group-size " + std::to_string(G) + " is not a multiple of 8");
    const int64_t groups = (K + G - 1) / G;
    const float qmax = static_cast<float>((1 << s.bits) - 1);
    const float half = static_cast<float>(1 << (s.bits - 1));
    Tensor scales = Tensor::zeros(DType::kF32, {N, groups});
    Tensor zeros = Tensor::zeros(DType::kF32, {N, groups});
    std::vector<uint8_t> q(N * K);
    for (int64_t n = 0; n < N; ++n) {
        const float* row = w.data<float>() + n * K;
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t k0 = g * G, k1 = std::min(K, k0 + G);
            float lo = 0.0f, hi = 0.0f;  // the range always includes 0 (GPTQ's quantizer does the same)
            for (int64_t k = k0; k < k1; ++k) lo = std::min(lo, row[k]), hi = std::max(hi, row[k]);
            float scale, zero;
            if (s.zero_point) {
                scale = (hi - lo) / qmax;
                zero = scale > 0 ? std::clamp(std::nearbyint(-lo / scale), 0.0f, qmax) : half;
            } else {
                scale = std::max(-lo, hi) / (half - 1.0f);
                zero = half;
            }
            const float inv = scale > 0 ? 1.0f / scale : 0.0f;
            for (int64_t k = k0; k < k1; ++k)
                q[n * K + k] = static_cast<uint8_t>(std::clamp(std::nearbyint(row[k] * inv) + zero, 0.0f, qmax));
            scales.data<float>()[n * groups + g] = scale;
            zeros.data<float>()[n * groups + g] = zero;
        }
    }
    return make_int_weight(s.bits, N, K, G, q, std::move(scales), std::move(zeros), false, Tensor(), what);
}

Result<Weight> stack_int_weights(const std::vector<Weight>& parts, const std::string& what) {
    if (parts.empty()) return invalid_argument(what + ": nothing to stack");
    const IntWeightQuant& q0 = parts[0].quant;
    int64_t N = 0;
    bool any_perm = false;
    for (const Weight& p : parts) {
        const IntWeightQuant& q = p.quant;
        if (q.bits == 0 || q.bits != q0.bits || q.in_features != q0.in_features || q.group_size != q0.group_size ||
            q.round_f16 != q0.round_f16)
            return invalid_argument(what + ": fused parts differ in quantization (bits, group size or rounding)");
        N += p.out_features();
        any_perm = any_perm || q.perm.defined();
    }
    const int64_t K = q0.in_features, rb = parts[0].t.dim(1), groups = q0.scales.dim(1);
    Weight w{Tensor::zeros(DType::kU8, {N, rb})};
    w.quant = q0;
    w.quant.scales = Tensor::zeros(DType::kF32, {N, groups});
    w.quant.zeros = Tensor::zeros(DType::kF32, {N, groups});
    w.quant.perm = Tensor();
    w.quant.part_end_rows.clear();
    std::vector<std::vector<int32_t>> perms;  // one per part of the result, merged when equal
    int64_t row = 0;
    for (const Weight& p : parts) {
        const int64_t n = p.out_features();
        std::memcpy(w.t.data<uint8_t>() + row * rb, p.t.raw(), p.t.nbytes());
        std::memcpy(w.quant.scales.data<float>() + row * groups, p.quant.scales.raw(), p.quant.scales.nbytes());
        std::memcpy(w.quant.zeros.data<float>() + row * groups, p.quant.zeros.raw(), p.quant.zeros.nbytes());
        if (any_perm) {
            const IntWeightQuant& q = p.quant;
            const int64_t sub_parts = q.perm.defined() ? q.perm.dim(0) : 1;
            for (int64_t s = 0; s < sub_parts; ++s) {
                std::vector<int32_t> pm(K);
                if (q.perm.defined()) std::memcpy(pm.data(), q.perm.data<int32_t>() + s * K, K * sizeof(int32_t));
                else for (int64_t k = 0; k < K; ++k) pm[k] = static_cast<int32_t>(k);
                const int64_t end = row + (q.perm.defined() ? q.part_end_rows[s] : n);
                if (!perms.empty() && perms.back() == pm) w.quant.part_end_rows.back() = end;
                else perms.push_back(std::move(pm)), w.quant.part_end_rows.push_back(end);
            }
        }
        row += n;
    }
    if (any_perm) {
        w.quant.perm = Tensor::zeros(DType::kI32, {static_cast<int64_t>(perms.size()), K});
        for (size_t i = 0; i < perms.size(); ++i)
            std::memcpy(w.quant.perm.data<int32_t>() + i * K, perms[i].data(), K * sizeof(int32_t));
    }
    return w;
}

Weight permute_int_weight_rows(const Weight& w, const std::vector<int64_t>& order) {
    const int64_t N = w.out_features();
    auto permute = [&](const Tensor& t) {
        const int64_t row_bytes = t.nbytes() / N;
        Tensor out = Tensor::zeros(t.dtype(), t.shape());
        for (int64_t r = 0; r < N; ++r)
            std::memcpy(out.data<uint8_t>() + r * row_bytes, t.data<uint8_t>() + order[r] * row_bytes, row_bytes);
        return out;
    };
    if (w.quant.perm.defined() && w.quant.perm.dim(0) > 1) return Weight{permute(dequantize_weight(w))};
    Weight out = w;
    out.t = permute(w.t);
    out.quant.scales = permute(w.quant.scales);
    out.quant.zeros = permute(w.quant.zeros);
    return out;
}

Tensor dequantize_weight(const Weight& w) {
    const IntWeightQuant& q = w.quant;
    const int64_t N = w.out_features(), K = q.in_features, G = q.group_size, groups = q.scales.dim(1);
    const int64_t rb = w.t.dim(1);
    Tensor out = Tensor::zeros(DType::kF32, {N, K});
    for (int64_t n = 0; n < N; ++n) {
        const uint8_t* row = w.t.data<uint8_t>() + n * rb;
        const int32_t* perm = q.perm.defined() ? q.perm.data<int32_t>() + part_of(q, n) * K : nullptr;
        for (int64_t k = 0; k < K; ++k) {
            const int v = q.bits == 8 ? row[k] : (row[k / 2] >> (4 * (k % 2))) & 15;
            const int64_t g = n * groups + k / G;
            out.data<float>()[n * K + (perm ? perm[k] : k)] =
                int_weight_value(q.scales.data<float>()[g], static_cast<float>(v), q.zeros.data<float>()[g], q.round_f16);
        }
    }
    return out;
}

}  // namespace kite::ops
