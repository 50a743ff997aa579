// SamplingParams::validate (one-line errors for bad request fields) and SamplerRng (the
// per-request seeded generator). The sampler itself is in sampling.cpp.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/sampling.h"

namespace kite {
namespace {

constexpr float kMaxLogitBias = 100.0f;  // OpenAI's range for logit_bias values

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace

Status SamplingParams::validate(int64_t vocab_size) const {
    if (!(temperature >= 0.0f) || std::isinf(temperature))
        return invalid_argument("temperature = " + num(temperature) +
                                " is invalid: expected a finite number >= 0 (0 means greedy)");
    if (top_k < -1)
        return invalid_argument("top_k = " + std::to_string(top_k) +
                                " is invalid: expected -1 or 0 (off) or a positive count");
    if (!(top_p > 0.0f && top_p <= 1.0f))
        return invalid_argument("top_p = " + num(top_p) + " is invalid: expected 0 < top_p <= 1");
    if (!(min_p >= 0.0f && min_p <= 1.0f))
        return invalid_argument("min_p = " + num(min_p) + " is invalid: expected 0 <= min_p <= 1");
    if (!(repetition_penalty > 0.0f) || std::isinf(repetition_penalty))
        return invalid_argument("repetition_penalty = " + num(repetition_penalty) +
                                " is invalid: expected a finite number > 0 (1 means off)");
    if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f))
        return invalid_argument("presence_penalty = " + num(presence_penalty) +
                                " is invalid: expected -2 <= presence_penalty <= 2");
    if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f))
        return invalid_argument("frequency_penalty = " + num(frequency_penalty) +
                                " is invalid: expected -2 <= frequency_penalty <= 2");
    for (const auto& [id, bias] : logit_bias) {
        if (id < 0 || id >= vocab_size)
            return invalid_argument("logit_bias: token id " + std::to_string(id) +
                                    " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
        if (!(bias >= -kMaxLogitBias && bias <= kMaxLogitBias))
            return invalid_argument("logit_bias: value " + num(bias) + " for token " + std::to_string(id) +
                                    " is invalid: expected -100 <= value <= 100");
    }
    if (logprobs < -1 || logprobs > kMaxLogprobs)
        return invalid_argument("logprobs = " + std::to_string(logprobs) +
                                " is invalid: expected -1 (off) or 0..20 top tokens");
    return Status::ok();
}

SamplerRng::SamplerRng(std::optional<uint64_t> seed) {
    if (seed) {
        gen_.seed(*seed);
        return;
    }
    // random_device may throw where no entropy source exists; the clock is a fine fallback for
    // an unseeded request (nothing promises it any particular output).
    uint64_t s;
    try {
        std::random_device rd;
        s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
        s = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    gen_.seed(s);
}

double SamplerRng::uniform() {
    // The top 53 bits as a multiple of 2^-53: exactly uniform on [0, 1), never 1.0, and the same
    // on every standard library (generate_canonical is neither, everywhere).
    return static_cast<double>(gen_() >> 11) * 0x1.0p-53;
}

}  // namespace kite
