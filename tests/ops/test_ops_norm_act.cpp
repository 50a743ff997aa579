// layer_norm (with and without bias, fused residual add), Gemma's (1 + w) RMSNorm, the activations
// (gated and in place) by their transformers names, scale and soft-cap: each against formulas
// evaluated here in double precision, on widths that are not multiples of 8.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "ops/ops.h"
#include "test_ops_util.h"

namespace kite::ops {
namespace {

using testing::random_floats;
using testing::tensor_of;
using testing::values_of;

// torch.nn.LayerNorm of one row in double: biased variance.
std::vector<double> ref_layer_norm(const float* x, const float* w, const float* b, int64_t n, float eps) {
    double mean = 0.0;
    for (int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= n;
    double var = 0.0;
    for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    std::vector<double> y(n);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) / std::sqrt(var + eps) * w[i] + (b ? b[i] : 0.0);
    return y;
}

TEST(OpsLayerNorm, MatchesReferenceWithAndWithoutBias) {
    for (int64_t n : {1, 7, 64, 769, 5125}) {
        for (bool with_bias : {false, true}) {
            const int64_t rows = 5;
            // An offset mean (40) checks that the variance is taken around the mean, not as E[x^2] - E[x]^2.
            const auto x = random_floats(rows * n, 1, 39.0f, 41.0f), w = random_floats(n, 2), b = random_floats(n, 3);
            Tensor bt = tensor_of(b, {n}), out = Tensor::zeros(DType::kF32, {rows, n});
            ASSERT_TRUE(layer_norm(tensor_of(x, {rows, n}), tensor_of(w, {n}), with_bias ? &bt : nullptr, 1e-5f, out).is_ok());
            const auto got = values_of(out);
            for (int64_t r = 0; r < rows; ++r) {
                const auto want = ref_layer_norm(x.data() + r * n, w.data(), with_bias ? b.data() : nullptr, n, 1e-5f);
                for (int64_t i = 0; i < n; ++i)
                    ASSERT_NEAR(got[r * n + i], want[i], 1e-5 * (1 + std::abs(want[i])))
                        << "n=" << n << " bias=" << with_bias << " row " << r << " col " << i;
            }
        }
    }
}

TEST(OpsLayerNorm, FusedAddUpdatesResidualThenNormalises) {
    const int64_t rows = 3, n = 769;
    const auto res = random_floats(rows * n, 4, -2.0f, 2.0f), x = random_floats(rows * n, 5);
    const auto w = random_floats(n, 6), b = random_floats(n, 7);
    Tensor rt = tensor_of(res, {rows, n}), bt = tensor_of(b, {n}), out = Tensor::zeros(DType::kF32, {rows, n});
    ASSERT_TRUE(add_layer_norm(rt, tensor_of(x, {rows, n}), tensor_of(w, {n}), &bt, 1e-5f, out).is_ok());
    const auto new_res = values_of(rt), got = values_of(out);
    for (int64_t i = 0; i < rows * n; ++i) ASSERT_EQ(new_res[i], res[i] + x[i]);
    for (int64_t r = 0; r < rows; ++r) {
        const auto want = ref_layer_norm(new_res.data() + r * n, w.data(), b.data(), n, 1e-5f);
        for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[r * n + i], want[i], 1e-5 * (1 + std::abs(want[i])));
    }
}

TEST(OpsLayerNorm, InPlaceAndRowAloneEqualsRowInBatch) {
    const int64_t n = 769, rows = 33;
    const auto x = random_floats(rows * n, 8), w = random_floats(n, 9), b = random_floats(n, 10);
    Tensor bt = tensor_of(b, {n}), all = tensor_of(x, {rows, n});
    ASSERT_TRUE(layer_norm(all, tensor_of(w, {n}), &bt, 1e-5f, all).is_ok());  // out aliases x
    for (int64_t r : {int64_t(0), int64_t(17), rows - 1}) {
        const std::vector<float> row(x.begin() + r * n, x.begin() + (r + 1) * n);
        Tensor one = Tensor::zeros(DType::kF32, {1, n});
        ASSERT_TRUE(layer_norm(tensor_of(row, {1, n}), tensor_of(w, {n}), &bt, 1e-5f, one).is_ok());
        EXPECT_EQ(0, std::memcmp(one.data<float>(), all.data<float>() + r * n, n * sizeof(float))) << "row " << r;
    }
}

TEST(OpsLayerNorm, RejectsMismatchedBiasAndResidual) {
    Tensor x = Tensor::zeros(DType::kF32, {2, 8}), w = Tensor::zeros(DType::kF32, {8}), out = Tensor::zeros(DType::kF32, {2, 8});
    Tensor short_bias = Tensor::zeros(DType::kF32, {7}), res = Tensor::zeros(DType::kF32, {3, 8});
    const Status st = layer_norm(x, w, &short_bias, 1e-5f, out);
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("bias"), std::string::npos) << st.message();
    EXPECT_FALSE(add_layer_norm(res, x, w, nullptr, 1e-5f, out).is_ok());
}

TEST(OpsNorm, GemmaRmsNormScalesByOnePlusWeight) {
    for (int64_t n : {7, 256, 769}) {
        const int64_t rows = 4;
        const auto x = random_floats(rows * n, 11, -3.0f, 3.0f), w = random_floats(n, 12, -0.5f, 0.5f);
        Tensor out = Tensor::zeros(DType::kF32, {rows, n});
        ASSERT_TRUE(rms_norm(tensor_of(x, {rows, n}), tensor_of(w, {n}), 1e-6f, out, 1.0f).is_ok());
        const auto got = values_of(out);
        for (int64_t r = 0; r < rows; ++r) {
            double ss = 0.0;
            for (int64_t i = 0; i < n; ++i) ss += double(x[r * n + i]) * x[r * n + i];
            const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
            for (int64_t i = 0; i < n; ++i) {
                const double want = x[r * n + i] * inv * (1.0 + w[i]);
                ASSERT_NEAR(got[r * n + i], want, 2e-6 * (1 + std::abs(want))) << "n=" << n << " col " << i;
            }
        }
        // The fused form with the offset: residual + x normalised the same way.
        const auto res = random_floats(rows * n, 13);
        Tensor rt = tensor_of(res, {rows, n}), fused = Tensor::zeros(DType::kF32, {rows, n});
        ASSERT_TRUE(add_rms_norm(rt, tensor_of(x, {rows, n}), tensor_of(w, {n}), 1e-6f, fused, 1.0f).is_ok());
        Tensor plain = Tensor::zeros(DType::kF32, {rows, n});
        ASSERT_TRUE(rms_norm(rt, tensor_of(w, {n}), 1e-6f, plain, 1.0f).is_ok());
        EXPECT_EQ(values_of(fused), values_of(plain));
    }
}

double ref_activation(Activation a, double x) {
    const double pi = 3.14159265358979323846;
    switch (a) {
        case Activation::kSilu: return x / (1.0 + std::exp(-x));
        case Activation::kGelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        case Activation::kGeluTanh: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (x + 0.044715 * x * x * x)));
        case Activation::kQuickGelu: return x / (1.0 + std::exp(-1.702 * x));
        case Activation::kRelu: return x > 0 ? x : 0.0;
        case Activation::kRelu2: return x > 0 ? x * x : 0.0;
    }
    return 0.0;
}

constexpr Activation kAll[] = {Activation::kSilu,      Activation::kGelu, Activation::kGeluTanh,
                               Activation::kQuickGelu, Activation::kRelu, Activation::kRelu2};

TEST(OpsActivation, InPlaceMatchesFormulas) {
    for (Activation a : kAll) {
        const auto x = random_floats(5125, 14, -8.0f, 8.0f);
        Tensor t = tensor_of(x, {5, 1025});
        ASSERT_TRUE(activation(t, a).is_ok());
        const auto got = values_of(t);
        for (size_t i = 0; i < x.size(); ++i) {
            const double want = ref_activation(a, x[i]);
            ASSERT_NEAR(got[i], want, 2e-6 * (1 + std::abs(want))) << activation_name(a) << " at x=" << x[i];
        }
    }
}

TEST(OpsActivation, KnownGeluValues) {
    // GELU(1) = Phi(1) = 0.8413447460685429; the tanh form gives 0.8411919906082768 (both as torch prints).
    Tensor a = tensor_of({1.0f, -1.0f}, {2}), b = tensor_of({1.0f, -1.0f}, {2});
    ASSERT_TRUE(activation(a, Activation::kGelu).is_ok());
    ASSERT_TRUE(activation(b, Activation::kGeluTanh).is_ok());
    EXPECT_NEAR(a.data<float>()[0], 0.8413447460685429, 1e-6);
    EXPECT_NEAR(a.data<float>()[1], -0.15865525393145707, 1e-6);
    EXPECT_NEAR(b.data<float>()[0], 0.8411919906082768, 1e-6);
    EXPECT_NEAR(b.data<float>()[1], -0.15880800939172324, 1e-6);
}

TEST(OpsActivation, GatedMatchesFormulasAndNamedWrappers) {
    const int64_t T = 3, n = 769;
    const auto gu = random_floats(T * 2 * n, 15, -6.0f, 6.0f);
    for (Activation a : kAll) {
        Tensor out = Tensor::zeros(DType::kF32, {T, n});
        ASSERT_TRUE(act_mul(tensor_of(gu, {T, 2 * n}), a, out).is_ok());
        const auto got = values_of(out);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t i = 0; i < n; ++i) {
                const double want = ref_activation(a, gu[t * 2 * n + i]) * gu[t * 2 * n + n + i];
                ASSERT_NEAR(got[t * n + i], want, 2e-6 * (1 + std::abs(want))) << activation_name(a);
            }
    }
    Tensor via_act = Tensor::zeros(DType::kF32, {T, n}), via_name = Tensor::zeros(DType::kF32, {T, n});
    ASSERT_TRUE(act_mul(tensor_of(gu, {T, 2 * n}), Activation::kGeluTanh, via_act).is_ok());
    ASSERT_TRUE(gelu_tanh_mul(tensor_of(gu, {T, 2 * n}), via_name).is_ok());
    EXPECT_EQ(values_of(via_act), values_of(via_name));
    ASSERT_TRUE(act_mul(tensor_of(gu, {T, 2 * n}), Activation::kGelu, via_act).is_ok());
    ASSERT_TRUE(gelu_mul(tensor_of(gu, {T, 2 * n}), via_name).is_ok());
    EXPECT_EQ(values_of(via_act), values_of(via_name));
    Tensor odd = Tensor::zeros(DType::kF32, {2, 5}), small = Tensor::zeros(DType::kF32, {2, 2});
    EXPECT_FALSE(gelu_mul(odd, small).is_ok());
}

TEST(OpsActivation, NamesFollowTransformers) {
    const std::pair<const char*, Activation> names[] = {
        {"silu", Activation::kSilu},           {"swish", Activation::kSilu},
        {"gelu", Activation::kGelu},           {"gelu_new", Activation::kGeluTanh},
        {"gelu_pytorch_tanh", Activation::kGeluTanh}, {"gelu_fast", Activation::kGeluTanh},
        {"quick_gelu", Activation::kQuickGelu}, {"relu", Activation::kRelu},
    };
    for (auto [name, act] : names) {
        Result<Activation> r = activation_from_name(name);
        ASSERT_TRUE(r.ok()) << name;
        EXPECT_EQ(*r, act) << name;
    }
    Result<Activation> bad = activation_from_name("gelu_tanh");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("gelu_pytorch_tanh"), std::string::npos) << bad.status().message();
}

TEST(OpsPointwise, ScaleAndSoftCap) {
    const auto x = random_floats(1025, 16, -100.0f, 100.0f);
    Tensor s = tensor_of(x, {1025});
    const float k = std::sqrt(2304.0f);  // Gemma-2 2B's embedding scale
    ASSERT_TRUE(scale_inplace(s, k).is_ok());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(s.data<float>()[i], x[i] * k);

    Tensor c = tensor_of(x, {1025});
    ASSERT_TRUE(soft_cap(c, 30.0f).is_ok());
    for (size_t i = 0; i < x.size(); ++i) {
        const double want = 30.0 * std::tanh(x[i] / 30.0);
        ASSERT_NEAR(c.data<float>()[i], want, 4e-6 * (1 + std::abs(want))) << "x=" << x[i];
        ASSERT_LT(std::abs(c.data<float>()[i]), 30.0f + 1e-4f);
    }
    // Small logits keep their relative precision (tanh's series branch), large ones saturate to +-cap.
    const auto tiny = random_floats(1031, 17, -8.0f, 8.0f);
    Tensor t = tensor_of(tiny, {1031});
    ASSERT_TRUE(soft_cap(t, 50.0f).is_ok());
    for (size_t i = 0; i < tiny.size(); ++i) {
        const double want = 50.0 * std::tanh(tiny[i] / 50.0);
        ASSERT_NEAR(t.data<float>()[i], want, 3e-7 * std::abs(want) + 1e-30) << "x=" << tiny[i];
    }
    Tensor huge = tensor_of({1e4f, -1e4f, 0.0f}, {3});
    ASSERT_TRUE(soft_cap(huge, 30.0f).is_ok());
    EXPECT_EQ(huge.data<float>()[0], 30.0f);
    EXPECT_EQ(huge.data<float>()[1], -30.0f);
    EXPECT_EQ(huge.data<float>()[2], 0.0f);
    EXPECT_FALSE(soft_cap(c, 0.0f).is_ok());
    EXPECT_FALSE(soft_cap(c, -5.0f).is_ok());
}

}  // namespace
}  // namespace kite::ops
