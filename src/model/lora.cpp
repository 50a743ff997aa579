// PEFT adapter loading and the reference (CPU) low-rank delta.
#include "model/lora.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/parallel.h"
#include "io/safetensors.h"

namespace kite {

namespace {

using nlohmann::json;

Result<Tensor> to_f32(const Tensor& t, const std::string& name) {
    if (t.dtype() == DType::kF32) {
        Tensor out = Tensor::empty(DType::kF32, t.shape());
        std::copy(t.data<float>(), t.data<float>() + t.numel(), out.data<float>());
        return out;
    }
    Tensor out = Tensor::empty(DType::kF32, t.shape());
    float* o = out.data<float>();
    if (t.dtype() == DType::kF16) {
        for (int64_t i = 0; i < t.numel(); ++i) o[i] = f16_to_f32(t.data<uint16_t>()[i]);
    } else if (t.dtype() == DType::kBF16) {
        for (int64_t i = 0; i < t.numel(); ++i) o[i] = bf16_to_f32(t.data<uint16_t>()[i]);
    } else {
        return invalid_argument(name + ": expected an f32, f16 or bf16 tensor");
    }
    return out;
}

// PEFT stores keys as "base_model.model.<module>.lora_A.weight" (older versions may add an adapter
// name: "...lora_A.default.weight").
bool split_key(const std::string& key, std::string& module, char& which) {
    static const std::regex re(R"(^base_model\.model\.(.+)\.lora_([AB])(\.[A-Za-z0-9_]+)?\.weight$)");
    std::smatch m;
    if (!std::regex_match(key, m, re)) return false;
    module = m[1].str();
    which = m[2].str()[0];
    return true;
}

}  // namespace

const std::string* lora_pattern_key(const std::vector<std::string>& keys, const std::string& module) {
    for (const std::string& k : keys) {
        try {
            if (std::regex_match(module, std::regex("(.*\\.)?(" + k + ")"))) return &k;
        } catch (const std::regex_error&) {
            if (module == k || (module.size() > k.size() && module.compare(module.size() - k.size() - 1, std::string::npos, "." + k) == 0))
                return &k;
        }
    }
    return nullptr;
}

Result<std::shared_ptr<const LoraAdapter>> LoraAdapter::load(const std::string& dir, std::string name) {
    const std::string cfg_path = dir + "/adapter_config.json";
    std::ifstream f(cfg_path);
    if (!f) return not_found(cfg_path + ": cannot open (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)");
    json cfg = json::parse(f, nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object()) return invalid_argument(cfg_path + ": not a JSON object");
    auto num = [&](const char* k, double def) -> Result<double> {
        auto it = cfg.find(k);
        if (it == cfg.end() || it->is_null()) return def;
        if (!it->is_number()) return invalid_argument(cfg_path + ": " + k + " must be a number");
        return it->get<double>();
    };
    auto flag = [&](const char* k) { return cfg.contains(k) && cfg[k].is_boolean() && cfg[k].get<bool>(); };
    if (cfg.contains("peft_type") && cfg["peft_type"].is_string() && cfg["peft_type"] != "LORA")
        return invalid_argument(cfg_path + ": peft_type '" + cfg["peft_type"].get<std::string>() + "' is not LORA");
    if (flag("use_dora")) return unimplemented(cfg_path + ": DoRA adapters (use_dora) are not supported");
    if (flag("fan_in_fan_out")) return unimplemented(cfg_path + ": fan_in_fan_out (Conv1D bases) is not supported");
    if (flag("lora_bias")) return unimplemented(cfg_path + ": lora_bias is not supported");
    if (cfg.contains("bias") && cfg["bias"].is_string() && cfg["bias"] != "none")
        return unimplemented(cfg_path + ": bias '" + cfg["bias"].get<std::string>() + "' is not supported (only none)");
    if (cfg.contains("modules_to_save") && !cfg["modules_to_save"].is_null() && !cfg["modules_to_save"].empty())
        return unimplemented(cfg_path + ": modules_to_save is not supported");
    KITE_ASSIGN_OR_RETURN(double r, num("r", 8));
    KITE_ASSIGN_OR_RETURN(double alpha, num("lora_alpha", 8));
    if (r <= 0) return invalid_argument(cfg_path + ": r must be positive");
    const bool rslora = flag("use_rslora");
    std::vector<std::string> alpha_keys;
    std::vector<double> alpha_vals;
    if (auto it = cfg.find("alpha_pattern"); it != cfg.end() && it->is_object())
        for (const auto& [k, v] : it->items()) {
            if (!v.is_number()) return invalid_argument(cfg_path + ": alpha_pattern values must be numbers");
            alpha_keys.push_back(k);
            alpha_vals.push_back(v.get<double>());
        }

    const std::string st_path = dir + "/adapter_model.safetensors";
    KITE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::open(st_path));
    std::unordered_map<std::string, std::pair<Tensor, Tensor>> ab;
    for (const auto& [key, entry] : file->entries()) {
        std::string module;
        char which;
        if (!split_key(key, module, which)) continue;
        KITE_ASSIGN_OR_RETURN(Tensor t, file->get(key));
        if (t.ndim() != 2) return invalid_argument(st_path + ": " + key + " must be 2-D");
        KITE_ASSIGN_OR_RETURN(Tensor f32, to_f32(t, st_path + ": " + key));
        (which == 'A' ? ab[module].first : ab[module].second) = std::move(f32);
    }
    if (ab.empty()) return invalid_argument(st_path + ": no lora_A / lora_B tensors");
    auto adapter = std::make_shared<LoraAdapter>();
    adapter->name_ = std::move(name);
    static std::atomic<uint64_t> next_key{1};
    adapter->key_ = 0x9E3779B97F4A7C15ull * next_key.fetch_add(1);
    for (auto& [module, pair] : ab) {
        if (!pair.first.defined() || !pair.second.defined())
            return invalid_argument(st_path + ": " + module + " has only one of lora_A / lora_B");
        const int64_t rank = pair.first.shape()[0];
        if (pair.second.shape()[1] != rank)
            return invalid_argument(st_path + ": " + module + ": lora_B has " + std::to_string(pair.second.shape()[1]) +
                                    " columns, lora_A " + std::to_string(rank) + " rows");
        // r from the tensors (which is what rank_pattern produced), alpha from alpha_pattern.
        double a = alpha;
        if (const std::string* k = lora_pattern_key(alpha_keys, module))
            a = alpha_vals[static_cast<size_t>(k - alpha_keys.data())];
        LoraModule m;
        m.scale = static_cast<float>(rslora ? a / std::sqrt(static_cast<double>(rank)) : a / static_cast<double>(rank));
        m.a = std::move(pair.first);
        m.b = std::move(pair.second);
        adapter->max_rank_ = std::max<int>(adapter->max_rank_, static_cast<int>(rank));
        adapter->modules_.emplace(module, std::move(m));
    }
    (void)r;
    return std::shared_ptr<const LoraAdapter>(adapter);
}

const LoraModule* LoraAdapter::find(const std::string& module) const {
    auto it = modules_.find(module);
    return it == modules_.end() ? nullptr : &it->second;
}

Status lora_add(const LoraModule& m, const Tensor& x, int64_t t0, int64_t t1, Tensor& out, int64_t col) {
    if (x.device() != Device::kCpu || out.device() != Device::kCpu)
        return unimplemented("LoRA adapters run on the CPU only for now (--device cpu)");
    if (x.dtype() != DType::kF32 || out.dtype() != DType::kF32) return internal_error("lora_add: f32 activations expected");
    const int64_t in = m.a.shape()[1], r = m.a.shape()[0], rows = m.b.shape()[0];
    if (x.shape()[1] != in) return internal_error("lora_add: input width " + std::to_string(x.shape()[1]) +
                                                  " differs from lora_A's " + std::to_string(in));
    if (col + rows > out.shape()[1]) return internal_error("lora_add: lora_B rows exceed the output");
    const float* A = m.a.data<float>();
    const float* B = m.b.data<float>();
    // Tokens are independent and each is summed in a fixed order, so the result does not depend on
    // how the tokens are split among threads (nor on the batch around them).
    const int64_t work = std::max<int64_t>(1, r * (in + rows));
    parallel_for(t1 - t0, std::max<int64_t>(1, 65536 / work), [&](int64_t begin, int64_t end) {
        std::vector<float> h(static_cast<size_t>(r));
        for (int64_t t = t0 + begin; t < t0 + end; ++t) {
            const float* xt = x.data<float>() + t * in;
            for (int64_t i = 0; i < r; ++i) {
                float s = 0;
                for (int64_t k = 0; k < in; ++k) s += A[i * in + k] * xt[k];
                h[static_cast<size_t>(i)] = s;
            }
            float* o = out.data<float>() + t * out.shape()[1] + col;
            for (int64_t j = 0; j < rows; ++j) {
                float s = 0;
                for (int64_t i = 0; i < r; ++i) s += B[j * r + i] * h[static_cast<size_t>(i)];
                o[j] += m.scale * s;
            }
        }
    });
    return Status::ok();
}

}  // namespace kite
