// A tiny random checkpoint written from the test (config.json + f32 model.safetensors under
// Hugging Face names) and a plain double-precision forward pass of it written from transformers'
// modeling code (Qwen2-MoE / DeepSeek-V2 / DeepSeek-V3): attention with expanded heads (never the
// absorbed MLA form), interleaved rotary computed on the pairs as stored (never by permuting rows),
// routing by full sorts. Independent of kite's kernels; used by test_moe_options.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kite::testing {

struct TinyCheckpoint {
    nlohmann::json config;
    std::map<std::string, std::vector<double>> w;
    std::map<std::string, std::vector<int64_t>> shape;
    uint32_t seed = 1;

    void add(const std::string& name, std::vector<int64_t> s, double scale = 0.3, double center = 0.0) {
        int64_t n = 1;
        for (int64_t d : s) n *= d;
        std::mt19937 gen(seed++);
        std::uniform_real_distribution<double> u(center - scale, center + scale);
        std::vector<double> v(n);
        for (double& x : v) x = static_cast<float>(u(gen));  // representable in f32
        w[name] = v;
        shape[name] = std::move(s);
    }
    void norm(const std::string& name, int64_t n) { add(name, {n}, 0.2, 1.0); }
    const std::vector<double>& at(const std::string& name) const {
        auto it = w.find(name);
        if (it == w.end()) {
            std::fprintf(stderr, "reference: no tensor %s\n", name.c_str());
            std::abort();
        }
        return it->second;
    }
    bool has(const std::string& name) const { return w.count(name) > 0; }

    void write(const std::string& dir) const {
        std::ofstream(dir + "/config.json") << config.dump(2);
        nlohmann::json header = nlohmann::json::object();
        int64_t off = 0;
        for (const auto& [name, v] : w) {
            header[name] = {{"dtype", "F32"}, {"shape", shape.at(name)}, {"data_offsets", {off, off + int64_t(v.size()) * 4}}};
            off += int64_t(v.size()) * 4;
        }
        std::string h = header.dump();
        while (h.size() % 8 != 0) h += ' ';
        std::ofstream out(dir + "/model.safetensors", std::ios::binary);
        const uint64_t hl = h.size();
        out.write(reinterpret_cast<const char*>(&hl), 8);
        out.write(h.data(), static_cast<std::streamsize>(h.size()));
        for (const auto& [name, v] : w)
            for (double x : v) {
                const float f = static_cast<float>(x);
                out.write(reinterpret_cast<const char*>(&f), 4);
            }
    }
};

using Vec = std::vector<double>;

// y = W x (+ b); W [rows, in] row-major.
inline Vec matvec(const Vec& W, const Vec& x, const Vec* b = nullptr) {
    const size_t in = x.size(), rows = W.size() / in;
    Vec y(rows, 0.0);
    for (size_t r = 0; r < rows; ++r) {
        double s = 0;
        for (size_t i = 0; i < in; ++i) s += W[r * in + i] * x[i];
        y[r] = s + (b ? (*b)[r] : 0.0);
    }
    return y;
}

inline Vec rms_norm(const Vec& x, const Vec& w, double eps) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / x.size() + eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * w[i];
    return y;
}

inline double silu(double x) { return x / (1.0 + std::exp(-x)); }

// SwiGLU MLP from separate gate/up/down matrices.
inline Vec swiglu(const Vec& gate, const Vec& up, const Vec& down, const Vec& x) {
    Vec g = matvec(gate, x), u = matvec(up, x);
    for (size_t i = 0; i < g.size(); ++i) g[i] = silu(g[i]) * u[i];
    return matvec(down, g);
}

// Rotary on x[off, off + dims): halves pairs (i, i + dims/2) or interleaved pairs (2i, 2i+1).
inline void rotate(Vec& x, size_t off, size_t dims, double pos, double theta, bool interleaved) {
    for (size_t i = 0; i < dims / 2; ++i) {
        const float inv_freq = static_cast<float>(1.0 / std::pow(theta, double(2 * i) / dims));
        const double a = static_cast<float>(pos * inv_freq);
        const size_t i0 = interleaved ? off + 2 * i : off + i, i1 = interleaved ? off + 2 * i + 1 : off + i + dims / 2;
        const double x0 = x[i0], x1 = x[i1];
        x[i0] = x0 * std::cos(a) - x1 * std::sin(a);
        x[i1] = x1 * std::cos(a) + x0 * std::sin(a);
    }
}

// Causal attention of one query position over keys [lo, pos]: out = sum softmax(scale q.k) v.
inline Vec attend(const Vec& q, const std::vector<Vec>& keys, const std::vector<Vec>& values, size_t lo, size_t pos,
                  double scale) {
    std::vector<double> p;
    double mx = -1e300;
    for (size_t j = lo; j <= pos; ++j) {
        double s = 0;
        for (size_t d = 0; d < q.size(); ++d) s += q[d] * keys[j][d];
        p.push_back(s * scale);
        mx = std::max(mx, p.back());
    }
    double z = 0;
    for (double& v : p) z += (v = std::exp(v - mx));
    Vec o(values[lo].size(), 0.0);
    for (size_t j = lo; j <= pos; ++j)
        for (size_t d = 0; d < o.size(); ++d) o[d] += p[j - lo] / z * values[j][d];
    return o;
}

}  // namespace kite::testing
