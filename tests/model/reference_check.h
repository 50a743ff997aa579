// Checks a model against a transformers reference (`reference.safetensors` beside a checkpoint:
// prompt{i}.ids, prompt{i}.logits at every position, prompt{i}.greedy): logits within 1e-4 of the
// largest reference logit at each position (or of 1), greedy continuation ids exact. Shared by the
// family, MoE and quantized-checkpoint tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/model.h"
#include "model_test_util.h"

namespace kite::testing {

inline std::vector<int32_t> ids_of(const Tensor& t) {
    std::vector<int32_t> v;
    for (int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<int32_t>(t.data<int64_t>()[i]));
    return v;
}

// Runs `model_path` over the reference prompts in `dir`/reference.safetensors: logits at every
// position within 1e-4 of the largest reference logit, greedy ids exact.
inline void check_against_reference(const std::string& dir, const std::string& model_path) {
    const std::string name = dir.substr(dir.rfind('/') + 1);
    auto model = load_model(model_path);
    ASSERT_TRUE(model.ok()) << model.status().message();
    auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    double worst = 0;
    for (int p = 0; (*ref)->has("prompt" + std::to_string(p) + ".ids"); ++p) {
        const std::string key = "prompt" + std::to_string(p);
        auto ids_t = (*ref)->get(key + ".ids");
        auto logits_t = (*ref)->get(key + ".logits");
        auto greedy_t = (*ref)->get(key + ".greedy");
        ASSERT_TRUE(ids_t.ok() && logits_t.ok() && greedy_t.ok());
        const std::vector<int32_t> ids = ids_of(*ids_t), greedy = ids_of(*greedy_t);
        const int64_t V = logits_t->dim(1);
        ASSERT_EQ(V, (*model)->config().vocab_size);

        auto kv = KvCache::create((*model)->kv_shape(16, 8));
        ASSERT_TRUE(kv.ok());
        TestSequence seq;
        int next_block = 0;
        auto rows = run_step(**model, *kv, {&seq}, {ids}, /*all_rows=*/true, &next_block);
        ASSERT_TRUE(rows.ok()) << rows.status().message();
        for (size_t t = 0; t < ids.size(); ++t) {
            // The bound is relative to the largest reference logit at this position.
            const float* want = logits_t->data<float>() + t * V;
            double largest = 0, diff = 0;
            for (int64_t v = 0; v < V; ++v) {
                largest = std::max<double>(largest, std::abs(want[v]));
                diff = std::max<double>(diff, std::abs((*rows)[t][v] - want[v]));
            }
            EXPECT_LT(diff, 1e-4 * std::max(largest, 1.0)) << name << " prompt " << p << " position " << t;
            worst = std::max(worst, diff / std::max(largest, 1.0));
        }
        std::vector<int32_t> got;
        int32_t next = argmax(rows->back());
        for (size_t i = 0; i < greedy.size(); ++i) {
            got.push_back(next);
            auto step = run_step(**model, *kv, {&seq}, {{next}}, false, &next_block);
            ASSERT_TRUE(step.ok()) << step.status().message();
            next = argmax((*step)[0]);
        }
        EXPECT_EQ(got, greedy) << name << " prompt " << p;
    }
    std::printf("%s: max |logit diff| / max |logit| = %.3g\n", model_path.c_str(), worst);
}

}  // namespace kite::testing
