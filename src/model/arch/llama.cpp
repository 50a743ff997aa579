// The Llama-family decoder: pre-norm blocks of GQA attention with rotary embeddings and a SwiGLU
// MLP. Mistral (sliding window), Qwen2 (q/k/v bias) and Qwen3 (q/k head norm, explicit head_dim)
// differ only by ModelConfig fields. Weights are read by Hugging Face name.
#include <cmath>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/parallel.h"
#include "model/registry.h"
#include "model/rotary.h"
#include "model/weight_loader.h"
#include "ops/ops.h"

namespace kite {

namespace {

struct LayerWeights {
    Tensor input_norm, post_attn_norm;
    Weight qkv, o, gate_up, down;
    Tensor qkv_bias, o_bias, gate_up_bias, down_bias;  // undefined when absent
    Tensor q_norm, k_norm;                             // Qwen3
    int sliding_window = 0;
};

// Activations one step needs per layer, allocated once per forward and reused by every layer.
struct StepBuffers {
    Tensor qkv, q, k, v, attn, gate_up, act;
};

class LlamaModel final : public Model {
public:
    LlamaModel(ModelConfig c) : config_(std::move(c)), rotary_(config_) {}
    const ModelConfig& config() const override { return config_; }
    Device device() const override { return device_; }
    int64_t weight_bytes_per_step() const override;
    Status load(const WeightSource& src, const LoadOptions& opts);
    Status forward(const ForwardBatch& batch, KvCache& kv, Tensor& logits) override;

private:
    Status attention(int layer, const ForwardBatch& batch, const Tensor& cos, const Tensor& sin, KvCache& kv,
                     StepBuffers& buf, const Tensor& h, Tensor& out);
    Status mlp(int layer, StepBuffers& buf, const Tensor& h, Tensor& out);
    Status upload_weights();

    // Where weights and activations live (LoadOptions::device). Activations are Tensor::empty (no
    // fill pass, no memset launch on the GPU): every op below overwrites its output completely.
    Device device_ = Device::kCpu;

    ModelConfig config_;
    RotaryEmbedding rotary_;
    Tensor embed_;
    Tensor final_norm_;
    Weight lm_head_;
    std::vector<LayerWeights> layers_;
};

const Tensor* opt(const Tensor& t) { return t.defined() ? &t : nullptr; }

Status LlamaModel::load(const WeightSource& src, const LoadOptions& opts) {
    const ModelConfig& c = config_;
    if (c.hidden_act != "silu" && c.hidden_act != "swish")
        return unimplemented("config.json: hidden_act '" + c.hidden_act + "' is not supported (expected silu)");
    WeightLoader w(&src, opts);
    const int64_t H = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
    const int64_t q_rows = int64_t(c.num_heads) * D, kv_rows = int64_t(c.num_kv_heads) * D;
    KITE_ASSIGN_OR_RETURN(embed_, w.table("model.embed_tokens.weight", c.vocab_size, H));
    KITE_ASSIGN_OR_RETURN(final_norm_, w.vector_f32({"model.norm.weight"}, {H}));
    if (!c.tie_word_embeddings || w.has("lm_head.weight")) {
        KITE_ASSIGN_OR_RETURN(lm_head_, w.linear({"lm_head.weight"}, {c.vocab_size}, H));
    } else {
        lm_head_ = Weight{embed_};  // the loader stored the table in a form ops::linear computes on
    }
    layers_.resize(c.num_layers);
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        LayerWeights& L = layers_[l];
        KITE_ASSIGN_OR_RETURN(L.input_norm, w.vector_f32({p + "input_layernorm.weight"}, {H}));
        KITE_ASSIGN_OR_RETURN(L.post_attn_norm, w.vector_f32({p + "post_attention_layernorm.weight"}, {H}));
        const std::string a = p + "self_attn.";
        KITE_ASSIGN_OR_RETURN(L.qkv, w.linear({a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"},
                                              {q_rows, kv_rows, kv_rows}, H));
        KITE_ASSIGN_OR_RETURN(L.o, w.linear({a + "o_proj.weight"}, {H}, q_rows));
        if (c.attention_bias) {
            KITE_ASSIGN_OR_RETURN(L.qkv_bias, w.vector_f32({a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"},
                                                           {q_rows, kv_rows, kv_rows}));
        }
        if (c.o_bias) {
            KITE_ASSIGN_OR_RETURN(L.o_bias, w.vector_f32({a + "o_proj.bias"}, {H}));
        }
        if (c.qk_norm) {
            KITE_ASSIGN_OR_RETURN(L.q_norm, w.vector_f32({a + "q_norm.weight"}, {D}));
            KITE_ASSIGN_OR_RETURN(L.k_norm, w.vector_f32({a + "k_norm.weight"}, {D}));
        }
        const std::string m = p + "mlp.";
        KITE_ASSIGN_OR_RETURN(L.gate_up, w.linear({m + "gate_proj.weight", m + "up_proj.weight"}, {I, I}, H));
        KITE_ASSIGN_OR_RETURN(L.down, w.linear({m + "down_proj.weight"}, {H}, I));
        if (c.mlp_bias) {
            KITE_ASSIGN_OR_RETURN(L.gate_up_bias, w.vector_f32({m + "gate_proj.bias", m + "up_proj.bias"}, {I, I}));
            KITE_ASSIGN_OR_RETURN(L.down_bias, w.vector_f32({m + "down_proj.bias"}, {H}));
        }
        L.sliding_window = (c.sliding_window > 0 && l >= c.max_window_layers) ? c.sliding_window : 0;
    }
    if (opts.device == Device::kCuda) return upload_weights();
    return Status::ok();
}

int64_t LlamaModel::weight_bytes_per_step() const {
    int64_t bytes = final_norm_.nbytes() + lm_head_.t.nbytes();
    for (const LayerWeights& L : layers_) {
        for (const Tensor* t : {&L.input_norm, &L.post_attn_norm, &L.qkv.t, &L.o.t, &L.gate_up.t, &L.down.t,
                                &L.qkv_bias, &L.o_bias, &L.gate_up_bias, &L.down_bias, &L.q_norm, &L.k_norm})
            if (t->defined()) bytes += t->nbytes();
    }
    return bytes;
}

// CUDA backend (docs/cuda.md): every weight is copied to the GPU once; the host copies are dropped.
Status LlamaModel::upload_weights() {
    std::string why;
    if (!cuda_available(&why)) return unavailable("LoadOptions.device = cuda: " + why);
    auto up = [](Tensor& t) -> Status {
        if (!t.defined()) return Status::ok();
        if (dtype_is_quantized(t.dtype()))
            return unimplemented(std::string("CUDA: quantized weights (") + dtype_name(t.dtype()) + ") are not supported yet");
        KITE_ASSIGN_OR_RETURN(t, t.to(Device::kCuda));
        return Status::ok();
    };
    const bool tied = lm_head_.t.raw() == embed_.raw();
    KITE_RETURN_IF_ERROR(up(embed_));
    KITE_RETURN_IF_ERROR(up(final_norm_));
    if (tied) lm_head_.t = embed_;
    else KITE_RETURN_IF_ERROR(up(lm_head_.t));
    for (LayerWeights& L : layers_) {
        for (Tensor* t : {&L.input_norm, &L.post_attn_norm, &L.qkv.t, &L.o.t, &L.gate_up.t, &L.down.t, &L.qkv_bias,
                          &L.o_bias, &L.gate_up_bias, &L.down_bias, &L.q_norm, &L.k_norm})
            KITE_RETURN_IF_ERROR(up(*t));
    }
    device_ = Device::kCuda;
    return Status::ok();
}

// Copies columns [col, col + width) of each row of src [T, stride] into dst [T, width] (same device).
Status take_columns(const Tensor& src, int64_t col, int64_t width, Tensor& dst) {
    const int64_t T = src.dim(0), stride = src.dim(1);
    return copy_rows_2d(dst.data<float>(), width * sizeof(float), src.data<float>() + col, stride * sizeof(float),
                        width * sizeof(float), T, src.device());
}

Status LlamaModel::attention(int layer, const ForwardBatch& batch, const Tensor& cos, const Tensor& sin, KvCache& kv,
                             StepBuffers& buf, const Tensor& h, Tensor& out) {
    const LayerWeights& L = layers_[layer];
    const int64_t T = batch.num_tokens(), D = config_.head_dim;
    const int64_t nh = config_.num_heads, nkv = config_.num_kv_heads;
    Tensor &qkv = buf.qkv, &q = buf.q, &k = buf.k, &v = buf.v, &attn = buf.attn;
    KITE_RETURN_IF_ERROR(ops::linear(h, L.qkv, opt(L.qkv_bias), qkv));
    KITE_RETURN_IF_ERROR(take_columns(qkv, 0, nh * D, q));
    KITE_RETURN_IF_ERROR(take_columns(qkv, nh * D, nkv * D, k));
    KITE_RETURN_IF_ERROR(take_columns(qkv, (nh + nkv) * D, nkv * D, v));
    if (config_.qk_norm) {
        KITE_RETURN_IF_ERROR(ops::rms_norm(q, L.q_norm, config_.rms_norm_eps, q));
        KITE_RETURN_IF_ERROR(ops::rms_norm(k, L.k_norm, config_.rms_norm_eps, k));
    }
    KITE_RETURN_IF_ERROR(ops::rope(q, cos, sin, rotary_.rot_dim()));
    KITE_RETURN_IF_ERROR(ops::rope(k, cos, sin, rotary_.rot_dim()));
    KITE_RETURN_IF_ERROR(ops::write_kv(k, v, batch.slot_mapping, kv.k(layer), kv.v(layer)));
    ops::AttentionParams ap;
    ap.scale = 1.0f / std::sqrt(static_cast<float>(D));
    ap.sliding_window = L.sliding_window;
    KITE_RETURN_IF_ERROR(ops::paged_attention(q, kv.k(layer), kv.v(layer), batch.query_start, batch.context_lens,
                                              batch.block_tables, ap, attn));
    return ops::linear(attn.reshape({T, nh * D}), L.o, opt(L.o_bias), out);
}

Status LlamaModel::mlp(int layer, StepBuffers& buf, const Tensor& h, Tensor& out) {
    const LayerWeights& L = layers_[layer];
    KITE_RETURN_IF_ERROR(ops::linear(h, L.gate_up, opt(L.gate_up_bias), buf.gate_up));
    KITE_RETURN_IF_ERROR(ops::silu_mul(buf.gate_up, buf.act));
    return ops::linear(buf.act, L.down, opt(L.down_bias), out);
}

Status LlamaModel::forward(const ForwardBatch& batch, KvCache& kv, Tensor& logits) {
    const int64_t T = batch.num_tokens(), H = config_.hidden_size;
    if (T == 0) return invalid_argument("forward: empty batch");
    if (batch.positions.size() != static_cast<size_t>(T) || batch.slot_mapping.size() != static_cast<size_t>(T) ||
        batch.query_start.size() != batch.context_lens.size() + 1 || batch.query_start.back() != T)
        return invalid_argument("forward: batch arrays disagree in length");
    for (int32_t p : batch.positions) {
        if (p < 0) return invalid_argument("forward: negative position");
    }
    // cos/sin per token; dynamic NTK needs each sequence's length.
    const int half = rotary_.rot_dim() / 2;
    Tensor cos = Tensor::zeros(DType::kF32, {T, half});
    Tensor sin = Tensor::zeros(DType::kF32, {T, half});
    for (int s = 0; s < batch.num_seqs(); ++s) {
        const int32_t b = batch.query_start[s], e = batch.query_start[s + 1];
        rotary_.compute(std::span<const int32_t>(batch.positions).subspan(b, e - b), batch.context_lens[s],
                        cos.data<float>() + int64_t(b) * half, sin.data<float>() + int64_t(b) * half);
    }
    if (device_ != Device::kCpu) {  // computed on the host, used on the device
        KITE_ASSIGN_OR_RETURN(cos, cos.to(device_));
        KITE_ASSIGN_OR_RETURN(sin, sin.to(device_));
    }

    Tensor residual = Tensor::empty(DType::kF32, {T, H}, device_);
    KITE_RETURN_IF_ERROR(ops::embedding(embed_, batch.token_ids, residual));
    Tensor h = Tensor::empty(DType::kF32, {T, H}, device_);
    Tensor branch = Tensor::empty(DType::kF32, {T, H}, device_);
    const int64_t D = config_.head_dim, nh = config_.num_heads, nkv = config_.num_kv_heads;
    const int64_t I = config_.intermediate_size;
    StepBuffers buf{Tensor::empty(DType::kF32, {T, (nh + 2 * nkv) * D}, device_),
                    Tensor::empty(DType::kF32, {T, nh, D}, device_),
                    Tensor::empty(DType::kF32, {T, nkv, D}, device_),
                    Tensor::empty(DType::kF32, {T, nkv, D}, device_),
                    Tensor::empty(DType::kF32, {T, nh, D}, device_),
                    Tensor::empty(DType::kF32, {T, 2 * I}, device_),
                    Tensor::empty(DType::kF32, {T, I}, device_)};
    KITE_RETURN_IF_ERROR(ops::rms_norm(residual, layers_[0].input_norm, config_.rms_norm_eps, h));
    for (int l = 0; l < config_.num_layers; ++l) {
        KITE_RETURN_IF_ERROR(attention(l, batch, cos, sin, kv, buf, h, branch));
        KITE_RETURN_IF_ERROR(ops::add_rms_norm(residual, branch, layers_[l].post_attn_norm, config_.rms_norm_eps, h));
        KITE_RETURN_IF_ERROR(mlp(l, buf, h, branch));
        if (l + 1 < config_.num_layers) {
            KITE_RETURN_IF_ERROR(ops::add_rms_norm(residual, branch, layers_[l + 1].input_norm, config_.rms_norm_eps, h));
        } else {
            KITE_RETURN_IF_ERROR(ops::add_inplace(residual, branch));
        }
    }
    // Only the rows whose logits are wanted go through the final norm and the head.
    std::vector<int32_t> rows = batch.logits_indices;
    if (rows.empty()) {
        rows.resize(T);
        for (int32_t t = 0; t < T; ++t) rows[t] = t;
    }
    const int64_t R = static_cast<int64_t>(rows.size());
    Tensor picked = Tensor::empty(DType::kF32, {R, H}, device_);
    for (int64_t r = 0; r < R; ++r) {
        if (rows[r] < 0 || rows[r] >= T) return invalid_argument("forward: logits index outside the batch");
        KITE_RETURN_IF_ERROR(copy_bytes(picked.data<float>() + r * H, device_,
                                        residual.data<float>() + int64_t(rows[r]) * H, device_, H * sizeof(float)));
    }
    KITE_RETURN_IF_ERROR(ops::rms_norm(picked, final_norm_, config_.rms_norm_eps, picked));
    if (!logits.defined() || logits.dim(0) != R || logits.dim(1) != config_.vocab_size)
        logits = Tensor::zeros(DType::kF32, {R, config_.vocab_size});
    if (device_ == Device::kCpu) return ops::linear(picked, lm_head_, nullptr, logits);
    // On the GPU: the head writes device logits, then one copy brings them to the host sampler.
    Tensor dev_logits = Tensor::empty(DType::kF32, {R, config_.vocab_size}, device_);
    KITE_RETURN_IF_ERROR(ops::linear(picked, lm_head_, nullptr, dev_logits));
    return copy_bytes(logits.raw(), Device::kCpu, dev_logits.raw(), device_, static_cast<size_t>(logits.nbytes()));
}

}  // namespace

Result<std::unique_ptr<Model>> make_llama(const ModelConfig& config, const WeightSource& source,
                                          const LoadOptions& options) {
    auto model = std::make_unique<LlamaModel>(config);
    KITE_RETURN_IF_ERROR(model->load(source, options));
    return std::unique_ptr<Model>(std::move(model));
}

}  // namespace kite
