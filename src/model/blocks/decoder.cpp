// The forward step of every decoder-only family: embeddings, per-layer mixer + feed-forward joined
// by the layer's norms and residual layout, final norm and head on the rows whose logits are
// wanted. Activations are f32 on the model's device; scratch comes from one Workspace per step.
#include "model/blocks/decoder.h"

#include <string>

#include <nlohmann/json.hpp>
#include <vector>

#include "core/device.h"
#include "ops/ops.h"

namespace kite {

namespace {

struct Layer {
    Norm attn_norm, mlp_norm, post_attn_norm, post_mlp_norm;
    std::unique_ptr<MixerBlock> mixer;
    std::unique_ptr<FeedForwardBlock> ffn;
};

class DecoderModel final : public Model {
public:
    explicit DecoderModel(DecoderSpec spec) : spec_(std::move(spec)) {}
    const ModelConfig& config() const override { return spec_.config; }
    Device device() const override { return device_; }
    int64_t weight_bytes_per_step() const override;
    Status load(const WeightSource& src, const LoadOptions& opts);
    Status forward(const ForwardBatch& batch, KvCache& kv, Tensor& logits) override;

private:
    Status rope_tables(const ForwardBatch& batch, std::vector<RopeTable>& out) const;
    Status embed(const ForwardBatch& batch, Workspace& ws, Tensor& residual);
    Status head(const ForwardBatch& batch, Tensor& residual, Tensor& logits);
    Status upload_weights();
    // Every weight tensor but the embedding tables (read by row only).
    TensorList layer_tensors() const;

    DecoderSpec spec_;
    Device device_ = Device::kCpu;
    std::vector<RotaryEmbedding> rotary_;
    Tensor embed_, positions_;
    Norm embed_norm_, final_norm_;
    std::vector<Layer> layers_;
    Weight lm_head_;
    Tensor head_bias_;
};

Status check_layer(const LayerSpec& s, int l, int num_rope) {
    const std::string where = "layer " + std::to_string(l) + ": ";
    if (!s.attn_norm.defined()) return internal_error(where + "no attention norm");
    if (s.residual == Residual::kSequential && !s.mlp_norm.defined())
        return internal_error(where + "a sequential layer needs an MLP norm");
    if (!s.make_mixer && s.attn.rope >= num_rope) return internal_error(where + "rotary table index out of range");
    return Status::ok();
}

// Names as the architecture gives them, or without the base model prefix when only that is stored.
class PrefixFallbackSource final : public WeightSource {
public:
    PrefixFallbackSource(const WeightSource& inner, std::string prefix) : inner_(inner), prefix_(std::move(prefix)) {}
    bool has(const std::string& n) const override { return inner_.has(resolve(n)); }
    Result<Tensor> get(const std::string& n) const override { return inner_.get(resolve(n)); }
    std::string location(const std::string& n) const override { return inner_.location(resolve(n)); }
    const nlohmann::json& config_json() const override { return inner_.config_json(); }
    const nlohmann::json& generation_config_json() const override { return inner_.generation_config_json(); }

private:
    std::string resolve(const std::string& n) const {
        if (prefix_.empty() || inner_.has(n) || n.rfind(prefix_, 0) != 0) return n;
        const std::string bare = n.substr(prefix_.size());
        return inner_.has(bare) ? bare : n;
    }
    const WeightSource& inner_;
    std::string prefix_;
};

Status DecoderModel::load(const WeightSource& source, const LoadOptions& opts) {
    const PrefixFallbackSource src(source, spec_.base_prefix);
    const ModelConfig& c = spec_.config;
    const int64_t H = c.hidden_size;
    if (static_cast<int>(spec_.layers.size()) != c.num_layers)
        return internal_error("DecoderSpec: " + std::to_string(spec_.layers.size()) + " layers described, config has " +
                              std::to_string(c.num_layers));
    for (const RopeSpec& r : spec_.rope) {
        if (r.rot_dim <= 0 || r.rot_dim % 2 != 0 || r.rot_dim > c.head_dim)
            return invalid_argument("rotary dims " + std::to_string(r.rot_dim) + " must be even and within head_dim " +
                                    std::to_string(c.head_dim));
        rotary_.emplace_back(r);
    }
    WeightLoader w(&src, opts);
    KITE_ASSIGN_OR_RETURN(embed_, w.table(spec_.embed.tokens, c.vocab_size, H));
    if (!spec_.embed.positions.empty()) {
        KITE_ASSIGN_OR_RETURN(positions_, w.table(spec_.embed.positions, spec_.embed.num_positions, H));
    }
    KITE_ASSIGN_OR_RETURN(embed_norm_, Norm::load(spec_.embed.norm, w, H));
    layers_.resize(c.num_layers);
    for (int l = 0; l < c.num_layers; ++l) {
        const LayerSpec& s = spec_.layers[l];
        Layer& L = layers_[l];
        KITE_RETURN_IF_ERROR(check_layer(s, l, static_cast<int>(spec_.rope.size())));
        KITE_ASSIGN_OR_RETURN(L.attn_norm, Norm::load(s.attn_norm, w, H));
        KITE_ASSIGN_OR_RETURN(L.mlp_norm, Norm::load(s.mlp_norm, w, H));
        KITE_ASSIGN_OR_RETURN(L.post_attn_norm, Norm::load(s.post_attn_norm, w, H));
        KITE_ASSIGN_OR_RETURN(L.post_mlp_norm, Norm::load(s.post_mlp_norm, w, H));
        if (s.make_mixer) {
            KITE_ASSIGN_OR_RETURN(L.mixer, s.make_mixer(w));
        } else {
            KITE_ASSIGN_OR_RETURN(L.mixer, AttentionBlock::load(s.attn, w));
        }
        if (s.make_ffn) {
            KITE_ASSIGN_OR_RETURN(L.ffn, s.make_ffn(w));
        } else {
            KITE_ASSIGN_OR_RETURN(L.ffn, MlpBlock::load(s.mlp, w));
        }
    }
    KITE_ASSIGN_OR_RETURN(final_norm_, Norm::load(spec_.final_norm, w, H));
    std::string head_name = spec_.head.weight.empty() ? "lm_head.weight" : spec_.head.weight[0];
    for (const std::string& n : spec_.head.weight) {
        if (w.has(n)) {
            head_name = n;
            break;
        }
    }
    if (!c.tie_word_embeddings || w.has(head_name)) {
        KITE_ASSIGN_OR_RETURN(lm_head_, w.linear({head_name}, {c.vocab_size}, H));
    } else if (dtype_is_quantized(embed_.dtype()) || embed_.dtype() == DType::kF32) {
        lm_head_ = Weight{embed_};
    } else {
        KITE_ASSIGN_OR_RETURN(Tensor t, to_f32(embed_, spec_.embed.tokens));
        lm_head_ = Weight{t};
    }
    if (!spec_.head.bias.empty()) {
        KITE_ASSIGN_OR_RETURN(head_bias_, w.vector_f32({spec_.head.bias}, {c.vocab_size}));
    }
    if (opts.device == Device::kCuda) return upload_weights();
    return Status::ok();
}

TensorList DecoderModel::layer_tensors() const {
    auto* self = const_cast<DecoderModel*>(this);
    TensorList t;
    self->embed_norm_.tensors(t);
    for (Layer& L : self->layers_) {
        for (Norm* n : {&L.attn_norm, &L.mlp_norm, &L.post_attn_norm, &L.post_mlp_norm}) n->tensors(t);
        L.mixer->tensors(t);
        L.ffn->tensors(t);
    }
    self->final_norm_.tensors(t);
    t.push_back(&self->head_bias_);
    return t;
}

int64_t DecoderModel::weight_bytes_per_step() const {
    int64_t bytes = lm_head_.t.nbytes();
    for (const Tensor* t : layer_tensors())
        if (t->defined()) bytes += t->nbytes();
    for (const Layer& L : layers_) {  // a sparse feed-forward counts what one token reads
        const int64_t active = L.ffn->active_bytes_per_token();
        if (active < 0) continue;
        TensorList f;
        L.ffn->tensors(f);
        for (const Tensor* t : f)
            if (t->defined()) bytes -= t->nbytes();
        bytes += active;
    }
    return bytes;
}

// CUDA backend (docs/cuda.md): every weight is copied to the GPU once; the host copies are dropped.
Status DecoderModel::upload_weights() {
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
    KITE_RETURN_IF_ERROR(up(positions_));
    if (tied) lm_head_.t = embed_;
    else KITE_RETURN_IF_ERROR(up(lm_head_.t));
    for (Tensor* t : layer_tensors()) KITE_RETURN_IF_ERROR(up(*t));
    device_ = Device::kCuda;
    return Status::ok();
}

// cos/sin per token for every table; dynamic NTK and longrope need each sequence's length.
Status DecoderModel::rope_tables(const ForwardBatch& batch, std::vector<RopeTable>& out) const {
    const int64_t T = batch.num_tokens();
    for (const RotaryEmbedding& r : rotary_) {
        const int half = r.rot_dim() / 2;
        RopeTable tab{Tensor::zeros(DType::kF32, {T, half}), Tensor::zeros(DType::kF32, {T, half}), r.rot_dim(),
                      r.spec().interleaved};
        for (int s = 0; s < batch.num_seqs(); ++s) {
            const int32_t b = batch.query_start[s], e = batch.query_start[s + 1];
            r.compute(std::span<const int32_t>(batch.positions).subspan(b, e - b), batch.context_lens[s],
                      tab.cos.data<float>() + int64_t(b) * half, tab.sin.data<float>() + int64_t(b) * half);
        }
        if (device_ != Device::kCpu) {  // computed on the host, used on the device
            KITE_ASSIGN_OR_RETURN(tab.cos, tab.cos.to(device_));
            KITE_ASSIGN_OR_RETURN(tab.sin, tab.sin.to(device_));
        }
        out.push_back(std::move(tab));
    }
    return Status::ok();
}

Status DecoderModel::embed(const ForwardBatch& batch, Workspace& ws, Tensor& residual) {
    KITE_RETURN_IF_ERROR(ops::embedding(embed_, batch.token_ids, residual));
    if (spec_.embed.scale != 1.0f) KITE_RETURN_IF_ERROR(ops::scale_inplace(residual, spec_.embed.scale));
    if (positions_.defined()) {
        for (int32_t p : batch.positions) {
            if (p >= spec_.embed.num_positions)
                return invalid_argument("forward: position " + std::to_string(p) + " is past the " +
                                        std::to_string(spec_.embed.num_positions) + " learned positions");
        }
        Tensor& pos = ws.get("embed.positions", residual.shape());
        KITE_RETURN_IF_ERROR(ops::embedding(positions_, batch.positions, pos));
        KITE_RETURN_IF_ERROR(ops::add_inplace(residual, pos));
    }
    if (embed_norm_.defined()) KITE_RETURN_IF_ERROR(embed_norm_.forward(residual, residual));
    return Status::ok();
}

Status copy_tensor(Tensor& dst, const Tensor& src) {
    return copy_bytes(dst.raw(), dst.device(), src.raw(), src.device(), static_cast<size_t>(src.nbytes()));
}

Status DecoderModel::forward(const ForwardBatch& batch, KvCache& kv, Tensor& logits) {
    const int64_t T = batch.num_tokens(), H = spec_.config.hidden_size;
    if (T == 0) return invalid_argument("forward: empty batch");
    if (batch.positions.size() != static_cast<size_t>(T) || batch.slot_mapping.size() != static_cast<size_t>(T) ||
        batch.query_start.size() != batch.context_lens.size() + 1 || batch.query_start.back() != T)
        return invalid_argument("forward: batch arrays disagree in length");
    for (int32_t p : batch.positions) {
        if (p < 0) return invalid_argument("forward: negative position");
    }
    std::vector<RopeTable> rope;
    KITE_RETURN_IF_ERROR(rope_tables(batch, rope));
    Workspace ws(device_);
    StepContext ctx{batch, kv, ws, rope};

    Tensor residual = Tensor::empty(DType::kF32, {T, H}, device_);
    Tensor& h = ws.get("decoder.h", {T, H});
    Tensor& branch = ws.get("decoder.branch", {T, H});
    KITE_RETURN_IF_ERROR(embed(batch, ws, residual));
    KITE_RETURN_IF_ERROR(layers_[0].attn_norm.forward(residual, h));
    if (spec_.layers[0].residual_from_norm) KITE_RETURN_IF_ERROR(copy_tensor(residual, h));
    const int n = spec_.config.num_layers;
    for (int l = 0; l < n; ++l) {
        const LayerSpec& S = spec_.layers[l];
        Layer& L = layers_[l];
        KITE_RETURN_IF_ERROR(L.mixer->forward(l, h, ctx, branch));
        if (L.post_attn_norm.defined()) KITE_RETURN_IF_ERROR(L.post_attn_norm.forward(branch, branch));
        if (S.residual == Residual::kSequential) {
            KITE_RETURN_IF_ERROR(L.mlp_norm.add_forward(residual, branch, h));
            if (S.residual_from_norm) KITE_RETURN_IF_ERROR(copy_tensor(residual, h));
            KITE_RETURN_IF_ERROR(L.ffn->forward(h, ctx, branch));
        } else {
            // Both branches read the layer input: the MLP runs before the residual moves.
            Tensor& mlp_out = ws.get("decoder.branch2", {T, H});
            if (L.mlp_norm.defined()) {
                Tensor& h2 = ws.get("decoder.h2", {T, H});
                KITE_RETURN_IF_ERROR(L.mlp_norm.forward(residual, h2));
                KITE_RETURN_IF_ERROR(L.ffn->forward(h2, ctx, mlp_out));
            } else {
                KITE_RETURN_IF_ERROR(L.ffn->forward(h, ctx, mlp_out));
            }
            KITE_RETURN_IF_ERROR(ops::add_inplace(residual, branch));
            KITE_RETURN_IF_ERROR(copy_tensor(branch, mlp_out));
        }
        if (L.post_mlp_norm.defined()) KITE_RETURN_IF_ERROR(L.post_mlp_norm.forward(branch, branch));
        if (l + 1 < n) {
            KITE_RETURN_IF_ERROR(layers_[l + 1].attn_norm.add_forward(residual, branch, h));
            if (spec_.layers[l + 1].residual_from_norm) KITE_RETURN_IF_ERROR(copy_tensor(residual, h));
        } else {
            KITE_RETURN_IF_ERROR(ops::add_inplace(residual, branch));
        }
    }
    return head(batch, residual, logits);
}

// Only the rows whose logits are wanted go through the final norm and the head.
Status DecoderModel::head(const ForwardBatch& batch, Tensor& residual, Tensor& logits) {
    const int64_t T = batch.num_tokens(), H = spec_.config.hidden_size, V = spec_.config.vocab_size;
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
    if (final_norm_.defined()) KITE_RETURN_IF_ERROR(final_norm_.forward(picked, picked));
    if (!logits.defined() || logits.dim(0) != R || logits.dim(1) != V) logits = Tensor::zeros(DType::kF32, {R, V});
    const Tensor* bias = head_bias_.defined() ? &head_bias_ : nullptr;
    Tensor dev_logits = device_ == Device::kCpu ? logits : Tensor::empty(DType::kF32, {R, V}, device_);
    KITE_RETURN_IF_ERROR(ops::linear(picked, lm_head_, bias, dev_logits));
    if (spec_.head.final_softcap > 0) KITE_RETURN_IF_ERROR(ops::soft_cap(dev_logits, spec_.head.final_softcap));
    if (device_ == Device::kCpu) return Status::ok();
    // On the GPU: the head writes device logits, then one copy brings them to the host sampler.
    return copy_bytes(logits.raw(), Device::kCpu, dev_logits.raw(), device_, static_cast<size_t>(logits.nbytes()));
}

}  // namespace

Result<std::unique_ptr<Model>> make_decoder(DecoderSpec spec, const WeightSource& source, const LoadOptions& options) {
    auto model = std::make_unique<DecoderModel>(std::move(spec));
    KITE_RETURN_IF_ERROR(model->load(source, options));
    return std::unique_ptr<Model>(std::move(model));
}

}  // namespace kite
