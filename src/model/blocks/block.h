// The block layer every architecture composes (model/arch/<family>.cpp describes, model/blocks/
// decoder.cpp runs). A decoder layer is: a token mixer (MixerBlock: attention, or another kind
// such as multi-head latent attention) and a feed-forward block (FeedForwardBlock: a dense MLP, or
// a mixture of experts), joined by norms and a residual layout (blocks/decoder_spec.h).
//
// Writing a new block kind (an MoE feed-forward, an MLA mixer):
//   1. derive from FeedForwardBlock or MixerBlock; load your weights in a factory through the
//      WeightLoader (by Hugging Face tensor name), keep them as Tensor/Weight members;
//   2. forward() reads the normed input x [T, hidden] f32 and writes out [T, hidden] f32 with ops
//      from ops/ops.h only (so it runs on every backend); take scratch tensors from ctx.ws;
//   3. tensors() lists every weight tensor (the decoder uploads them to the GPU and counts bytes);
//   4. in the family file set LayerSpec::make_ffn / make_mixer to the factory.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "model/forward_batch.h"
#include "model/kv_cache.h"
#include "model/weight_loader.h"

namespace kite {

// Scratch activations of one forward step, reused by every layer: get("attn.qkv", shape) returns
// the same tensor each call while the shape stays. Keys are string literals; each block uses its
// own prefix so blocks alive at once never share a buffer.
class Workspace {
public:
    explicit Workspace(Device device) : device_(device) {}
    Tensor& get(const char* key, std::vector<int64_t> shape);
    Device device() const { return device_; }

private:
    struct Slot {
        const char* key;
        Tensor t;
    };
    Device device_;
    std::deque<Slot> slots_;  // a deque: references stay valid as slots are added
};

// cos/sin [T, rot_dim/2] of one rotary table for the tokens of this step.
struct RopeTable {
    Tensor cos, sin;
    int rot_dim = 0;
    bool interleaved = false;
};

// What a block sees of the step besides its input.
struct StepContext {
    const ForwardBatch& batch;
    KvCache& kv;
    Workspace& ws;
    std::span<const RopeTable> rope;  // DecoderSpec::rope, computed for this step's positions
};

// Every weight tensor of a block, for the GPU upload and the bytes-per-step count.
using TensorList = std::vector<Tensor*>;

class MixerBlock {
public:
    virtual ~MixerBlock() = default;
    // x: [T, hidden] normed input; out: [T, hidden]. `layer` indexes the KV cache.
    virtual Status forward(int layer, const Tensor& x, StepContext& ctx, Tensor& out) = 0;
    virtual void tensors(TensorList& out) = 0;
};

class FeedForwardBlock {
public:
    virtual ~FeedForwardBlock() = default;
    // x: [T, hidden] normed input; out: [T, hidden].
    virtual Status forward(const Tensor& x, StepContext& ctx, Tensor& out) = 0;
    virtual void tensors(TensorList& out) = 0;
    // Bytes of weights one decoded token reads when that is less than all of tensors() (a mixture
    // of experts reads its router, shared experts and top_k routed experts); -1: all of them.
    virtual int64_t active_bytes_per_token() { return -1; }
};

// Factories an architecture can put in a LayerSpec to replace the default blocks.
using MakeMixerFn = std::function<Result<std::unique_ptr<MixerBlock>>(WeightLoader&)>;
using MakeFeedForwardFn = std::function<Result<std::unique_ptr<FeedForwardBlock>>(WeightLoader&)>;

// A linear layer as the checkpoint stores it: one or several tensors stacked by rows into one
// weight (q|k|v, gate|up), optional biases, and an optional row order applied after stacking
// (fused per-head q/k/v layouts are reordered into [q | k | v] at load).
struct LinearSpec {
    std::vector<std::string> weights;  // tensor names, e.g. "model.layers.0.self_attn.q_proj.weight"
    std::vector<std::string> biases;   // empty: no bias; else one per weight
    std::vector<int64_t> rows;         // rows of each weight
    int64_t in = 0;
    std::vector<int64_t> row_order;    // empty: as stacked; else out row i = stacked row row_order[i]

    int64_t out() const;
    // `modules` are module names ("...q_proj"); ".weight" / ".bias" are appended.
    static LinearSpec of(std::vector<std::string> modules, std::vector<int64_t> rows, int64_t in, bool bias);
};

struct Linear {
    Weight w;
    Tensor bias;  // undefined when none
    // The checkpoint modules stacked in w ("model.layers.0.self_attn.q_proj") and their first output
    // columns: where a LoRA adapter's delta for each of them goes.
    std::vector<std::string> modules;
    std::vector<int64_t> offsets;
    bool reordered = false;  // row_order applied: per-module columns are not contiguous
    static Result<Linear> load(const LinearSpec& spec, WeightLoader& loader);
    Status forward(const Tensor& x, Tensor& out) const;
    // The same, plus each sequence's LoRA delta when the step uses adapters (ForwardBatch::loras).
    Status forward(const Tensor& x, Tensor& out, const StepContext& ctx) const;
    void tensors(TensorList& out) {
        out.push_back(&w.t);
        out.push_back(&w.quant.scales);  // undefined unless integer weight-only (ops/wq.h)
        out.push_back(&w.quant.zeros);
        out.push_back(&w.quant.perm);
        out.push_back(&bias);
    }
};

// out row i = t row order[i] (whole rows: quantized rows move block for block; a 1-D tensor's
// elements are its rows). inverse_order(o)[o[i]] = i undoes such a reorder.
Tensor permute_rows(const Tensor& t, const std::vector<int64_t>& order);
std::vector<int64_t> inverse_order(const std::vector<int64_t>& order);

// Copies columns [col, col + width) of each row of src [T, stride] into dst [T, width].
Status take_columns(const Tensor& src, int64_t col, int64_t width, Tensor& dst);

}  // namespace kite
