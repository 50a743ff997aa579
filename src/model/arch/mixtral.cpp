// MixtralForCausalLM: the Llama layout (GQA, rotary, optional sliding window on every layer) with
// each MLP replaced by num_local_experts SwiGLU experts of intermediate_size, softmax router, top
// num_experts_per_tok, chosen weights always renormalised (transformers' MixtralTopKRouter).
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/blocks/llama_layout.h"
#include "model/blocks/moe.h"
#include "model/config_fields.h"
#include "model/registry.h"

namespace kite {

namespace {

Result<DecoderSpec> describe(const nlohmann::json& j, const std::string& src) {
    KITE_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(j, src));
    int num_experts = 8, top_k = 2;  // transformers' defaults
    KITE_RETURN_IF_ERROR(config::read_int(j, {"num_local_experts"}, src, num_experts, false, 1));
    KITE_RETURN_IF_ERROR(config::read_int(j, {"num_experts_per_tok"}, src, top_k, false, 1));
    if (top_k > num_experts)
        return invalid_argument(src + ": num_experts_per_tok = " + std::to_string(top_k) + " exceeds num_local_experts = " +
                                std::to_string(num_experts));
    DecoderSpec d = llama_layout(c);
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = layer_prefix(l);
        d.layers[l].attn.sliding_window = c.sliding_window;
        MoeSpec m;
        m.hidden = c.hidden_size;
        m.act = c.hidden_act;
        m.expert_intermediate = c.intermediate_size;
        m.router.num_experts = num_experts;
        m.router.top_k = top_k;
        m.router.renormalize = true;
        m.router_weight = {p + "mlp.gate.weight", p + "block_sparse_moe.gate.weight"};
        m.experts.prefixes = {p + "mlp.experts.", p + "block_sparse_moe.experts."};
        m.experts.gate = "w1.weight";
        m.experts.up = "w3.weight";
        m.experts.down = "w2.weight";
        d.layers[l].make_ffn = [m](WeightLoader& w) { return MoeBlock::load(m, w); };
    }
    return d;
}

}  // namespace

// llama.cpp stores Mixtral as general.architecture "llama" with llama.expert_count experts (router
// ffn_gate_inp, experts stacked by kind); such a file is described as MixtralForCausalLM. The Llama
// GGUF hook (arch/llama.cpp) calls this; the Llama tables name the expert tensors.
Status llama_gguf_experts(const GgufFile& f, nlohmann::json& cfg) {
    if (!f.has("llama.expert_count")) return Status::ok();
    KITE_ASSIGN_OR_RETURN(int64_t experts, f.get_int("llama.expert_count"));
    if (experts <= 0) return Status::ok();
    if (!f.has("llama.expert_used_count"))
        return invalid_argument(f.path() + ": llama.expert_count is set but llama.expert_used_count is missing");
    KITE_ASSIGN_OR_RETURN(int64_t used, f.get_int("llama.expert_used_count"));
    cfg["architectures"] = nlohmann::json::array({"MixtralForCausalLM"});
    cfg["model_type"] = "mixtral";
    cfg["num_local_experts"] = experts;
    cfg["num_experts_per_tok"] = used;
    return Status::ok();
}

extern const ArchDef kMixtralArch{"MixtralForCausalLM", "mixtral", &describe, nullptr};

}  // namespace kite
