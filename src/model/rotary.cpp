// Inverse frequencies follow transformers' modeling_rope_utils (float32 results); the position x
// frequency product is rounded to float32 as torch's matmul does, then cos/sin are taken.
#include "model/rotary.h"

#include <cmath>

namespace kite {

namespace {

std::vector<float> default_inv_freq(double base, int dim) {
    std::vector<float> f(dim / 2);
    for (int i = 0; i < dim / 2; ++i) {
        const float expo = static_cast<float>(2 * i) / static_cast<float>(dim);
        f[i] = static_cast<float>(1.0 / static_cast<float>(std::pow(base, static_cast<double>(expo))));
    }
    return f;
}

double yarn_mscale(double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

}  // namespace

RopeSpec RopeSpec::from_config(const ModelConfig& c) {
    RopeSpec r;
    r.rot_dim = static_cast<int>(c.head_dim * c.partial_rotary_factor);
    r.rot_dim -= r.rot_dim % 2;
    r.theta = c.rope_theta;
    r.scaling = c.rope_scaling;
    r.max_position_embeddings = c.max_position_embeddings;
    return r;
}

RotaryEmbedding::RotaryEmbedding(const RopeSpec& spec) : spec_(spec) {
    const int rot_dim_ = spec_.rot_dim;
    const RopeScaling& s = spec_.scaling;
    const double theta = spec_.theta;
    const int max_pos = spec_.max_position_embeddings;
    inv_freq_ = default_inv_freq(theta, rot_dim_);
    switch (s.type) {
        case RopeScaling::Type::kNone:
        case RopeScaling::Type::kDynamic:  // rescaled per sequence length in inv_freq_for()
            break;
        case RopeScaling::Type::kLinear:
            for (float& f : inv_freq_) f /= s.factor;
            break;
        case RopeScaling::Type::kLlama3: {
            const double old_ctx = s.original_max_position_embeddings;
            const double low_wavelen = old_ctx / s.low_freq_factor;
            const double high_wavelen = old_ctx / s.high_freq_factor;
            for (float& f : inv_freq_) {
                const double wavelen = 2 * M_PI / f;
                if (wavelen < high_wavelen) continue;
                if (wavelen > low_wavelen) {
                    f = static_cast<float>(f / s.factor);
                } else {
                    const double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
                    f = static_cast<float>((1 - smooth) * f / s.factor + smooth * f);
                }
            }
            break;
        }
        case RopeScaling::Type::kYarn: {
            const int dim = rot_dim_;
            const double base = theta;
            double factor = s.factor;
            double orig = max_pos;
            if (s.original_max_position_embeddings > 0 && s.original_max_position_embeddings != max_pos) {
                // transformers: with original_max_position_embeddings, the factor is the context ratio.
                orig = s.original_max_position_embeddings;
                factor = static_cast<double>(max_pos) / orig;
            }
            if (s.attention_factor > 0) {
                attention_factor_ = s.attention_factor;
            } else if (s.mscale > 0 && s.mscale_all_dim > 0) {
                attention_factor_ = static_cast<float>(yarn_mscale(factor, s.mscale) / yarn_mscale(factor, s.mscale_all_dim));
            } else {
                attention_factor_ = static_cast<float>(yarn_mscale(factor, 1.0));
            }
            auto correction_dim = [&](double rotations) {
                return dim * std::log(orig / (rotations * 2 * M_PI)) / (2 * std::log(base));
            };
            double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
            if (s.truncate) {
                low = std::floor(low);
                high = std::ceil(high);
            }
            low = std::max(low, 0.0);
            high = std::min(high, static_cast<double>(dim - 1));
            if (low == high) high += 0.001;
            for (int i = 0; i < dim / 2; ++i) {
                const float expo = static_cast<float>(2 * i) / static_cast<float>(dim);
                const float pos_freq = static_cast<float>(std::pow(base, static_cast<double>(expo)));
                const float extrap = 1.0f / pos_freq;
                const float interp = 1.0f / (static_cast<float>(factor) * pos_freq);
                float ramp = static_cast<float>((i - low) / (high - low));
                ramp = std::min(1.0f, std::max(0.0f, ramp));
                const float extrap_factor = 1.0f - ramp;
                inv_freq_[i] = interp * (1 - extrap_factor) + extrap * extrap_factor;
            }
            break;
        }
        case RopeScaling::Type::kLongRope: {
            // inv_freq = 1 / (ext_factor[i] * base^(2i/dim)); short factors up to the trained context,
            // long ones past it (transformers' longrope_frequency_update, per sequence here).
            const int half = rot_dim_ / 2;
            const double orig = s.original_max_position_embeddings > 0 ? s.original_max_position_embeddings : max_pos;
            const double factor = s.factor > 0 ? s.factor : max_pos / orig;
            if (s.attention_factor > 0) attention_factor_ = s.attention_factor;
            else attention_factor_ = factor <= 1 ? 1.0f : static_cast<float>(std::sqrt(1 + std::log(factor) / std::log(orig)));
            auto table = [&](const std::vector<float>& ext) {
                std::vector<float> f(half);
                for (int i = 0; i < half; ++i) {
                    const float expo = static_cast<float>(2 * i) / static_cast<float>(rot_dim_);
                    const float pw = static_cast<float>(std::pow(theta, static_cast<double>(expo)));
                    const float e = i < static_cast<int>(ext.size()) ? ext[i] : 1.0f;
                    f[i] = 1.0f / (e * pw);
                }
                return f;
            };
            inv_freq_ = table(s.short_factor);
            long_inv_freq_ = table(s.long_factor);
            break;
        }
    }
}

std::vector<float> RotaryEmbedding::inv_freq_for(int64_t seq_len) const {
    const RopeScaling& s = spec_.scaling;
    const int rot_dim_ = spec_.rot_dim;
    if (s.type == RopeScaling::Type::kLongRope) {
        const int64_t orig = s.original_max_position_embeddings > 0 ? s.original_max_position_embeddings
                                                                     : spec_.max_position_embeddings;
        return seq_len > orig ? long_inv_freq_ : inv_freq_;
    }
    if (s.type != RopeScaling::Type::kDynamic || seq_len <= spec_.max_position_embeddings) return inv_freq_;
    const double factor = s.factor;
    const double max_pos = spec_.max_position_embeddings;
    const double base = spec_.theta *
                        std::pow(factor * seq_len / max_pos - (factor - 1), static_cast<double>(rot_dim_) / (rot_dim_ - 2));
    return default_inv_freq(base, rot_dim_);
}

void RotaryEmbedding::compute(std::span<const int32_t> positions, int64_t seq_len, float* cos, float* sin) const {
    const std::vector<float> inv = inv_freq_for(seq_len);
    const int half = spec_.rot_dim / 2;
    for (size_t t = 0; t < positions.size(); ++t) {
        const float pos = static_cast<float>(positions[t]);
        for (int i = 0; i < half; ++i) {
            const float angle = pos * inv[i];
            cos[t * half + i] = static_cast<float>(std::cos(static_cast<double>(angle))) * attention_factor_;
            sin[t * half + i] = static_cast<float>(std::sin(static_cast<double>(angle))) * attention_factor_;
        }
    }
}

}  // namespace kite
