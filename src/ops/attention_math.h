// How an attention score becomes a logit beyond q.k (AttentionParams): soft-capping and the two
// ALiBi forms, as scalar code compiled for the host and the GPU. The CUDA kernels apply it as
// written; the CPU kernel does for Falcon's form and computes the others 8 scores at a time in the
// same order (ops/cpu/attention.cpp).
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/host_device.h"
#include "ops/ops.h"

namespace kite::ops {

// f32 -> bf16 -> f32, round to nearest even (as torch's .bfloat16()); inputs here are finite.
KITE_HOST_DEVICE inline float round_bf16(float x) {
#if defined(__CUDA_ARCH__)
    uint32_t u = __float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, sizeof(u));
#endif
    u += 0x7FFFu + ((u >> 16) & 1u);
    u &= 0xFFFF0000u;
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    memcpy(&x, &u, sizeof(x));
    return x;
#endif
}

// The score options of one (query, head). The kernels compute s = q.k * qk_scale, then:
struct ScoreMods {
    float qk_scale = 1.0f;  // AttentionParams::scale, or 1 in Falcon's ALiBi form (scaled below instead)
    float softcap = 0.0f;   // > 0: s = softcap * tanh(s / softcap)
    float slope = 0.0f;     // this head's ALiBi slope (bf16-rounded already in Falcon's form)
    bool alibi = false;     // s += slope * (j - pos), after soft-capping
    bool falcon = false;    // b = bf16(slope * j); s = (s + b) * scale + b * scale, before soft-capping
    float scale = 1.0f;     // Falcon's form: AttentionParams::scale
    KITE_HOST_DEVICE bool any() const { return softcap > 0.0f || alibi || falcon; }
};

// Score of key j (position in the sequence) for the query at position pos.
KITE_HOST_DEVICE inline float modify_score(float s, const ScoreMods& m, int64_t j, int64_t pos) {
    if (m.falcon) {  // inside the scores, then again through transformers' causal mask (b / sqrt(d))
        const float b = round_bf16(m.slope * static_cast<float>(j));
        s = (s + b) * m.scale + b * m.scale;
    }
    if (m.softcap > 0.0f) s = m.softcap * tanhf(s / m.softcap);
    if (m.alibi) s += m.slope * static_cast<float>(j - pos);
    return s;
}

// The options of head h for AttentionParams p (alibi_slopes already checked to have one per head).
inline ScoreMods score_mods(const AttentionParams& p, int64_t h) {
    ScoreMods m;
    m.softcap = p.logit_softcap;
    const bool has_alibi = !p.alibi_slopes.empty();
    m.falcon = has_alibi && p.alibi_falcon_bf16;
    m.alibi = has_alibi && !m.falcon;
    m.slope = has_alibi ? (m.falcon ? round_bf16(p.alibi_slopes[h]) : p.alibi_slopes[h]) : 0.0f;
    m.qk_scale = m.falcon ? 1.0f : p.scale;
    m.scale = p.scale;
    return m;
}

}  // namespace kite::ops
