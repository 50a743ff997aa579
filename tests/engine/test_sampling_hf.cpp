// kite's sampler against Hugging Face transformers' own logits processors: logit bias, repetition
// penalty, presence/frequency, temperature, top-k, top-p, min-p in generate()'s order. The expected
// distributions come from sampling_hf_reference.py (torch + transformers), stored as JSON.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/sampling.h"

namespace kite {
namespace {

TEST(SamplingHf, DistributionsMatchTransformersProcessors) {
    const std::string path = std::string(KITE_SOURCE_DIR) + "/tests/engine/sampling_hf_reference.json";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path << ": missing (run tests/engine/sampling_hf_reference.py)";
    const nlohmann::json ref = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(ref.is_discarded()) << path << ": not valid JSON";
    ASSERT_GE(ref.at("cases").size(), 10u);

    for (const auto& c : ref.at("cases")) {
        const auto& j = c.at("params");
        SCOPED_TRACE(j.dump());
        SamplingParams p;
        p.temperature = j.at("temperature").get<float>();
        p.top_k = j.value("top_k", 0);
        p.top_p = j.value("top_p", 1.0f);
        p.min_p = j.value("min_p", 0.0f);
        p.repetition_penalty = j.value("repetition_penalty", 1.0f);
        p.presence_penalty = j.value("presence_penalty", 0.0f);
        p.frequency_penalty = j.value("frequency_penalty", 0.0f);
        for (const auto& b : j.value("logit_bias", nlohmann::json::array()))
            p.logit_bias.emplace_back(b.at(0).get<int32_t>(), b.at(1).get<float>());
        ASSERT_TRUE(p.validate(ref.at("vocab").get<int64_t>()).is_ok());

        std::vector<float> row = c.at("logits").get<std::vector<float>>();
        const auto prompt = c.at("prompt_ids").get<std::vector<int32_t>>();
        const auto output = c.at("output_ids").get<std::vector<int32_t>>();
        const auto want = c.at("probs").get<std::vector<double>>();
        // sample_token leaves the row with bias and penalties applied; sampling_distribution then
        // applies temperature and the truncations, and is exactly what the draw uses.
        SamplerRng rng(1);
        const int32_t drawn = sample_token(row, p, prompt, output, rng).token;
        EXPECT_GT(want[drawn], 0.0) << "drew token " << drawn << " that HF gives probability 0";

        std::vector<double> got(want.size(), 0.0);
        for (const auto& [id, prob] : sampling_distribution(row, p)) got[id] = prob;
        for (size_t t = 0; t < want.size(); ++t) {
            EXPECT_EQ(got[t] > 0.0, want[t] > 0.0) << "token " << t << ": kite " << got[t] << ", HF " << want[t];
            EXPECT_NEAR(got[t], want[t], 1e-5) << "token " << t;
        }
    }
}

}  // namespace
}  // namespace kite
