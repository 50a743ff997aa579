// Engine flags -> EngineConfig (see engine_flags.h).
#include "cli/engine_flags.h"

namespace kite::cli {

void declare_engine_flags(Flags& f) {
    f.add("max-num-seqs", "N", "sequences running at once (default 256)");
    f.add("max-num-batched-tokens", "N", "tokens computed per engine step; longer prompts are prefilled in chunks (default 2048)");
    f.add("kv-cache-mem-mb", "M", "KV cache budget in MiB (default: enough for max-num-seqs full contexts, at most 512 MiB)",
          "KV_CACHE_MEM_MB");
    f.add("num-kv-blocks", "B", "KV cache size in blocks (instead of --kv-cache-mem-mb)");
    f.add("kv-cache-mem-fraction", "F", "KV cache as this fraction (0, 1] of available memory (instead of the above)");
    f.add("block-size", "S", "tokens per KV block (default 16)");
    f.add("preemption-mode", "MODE", "when KV blocks run out: recompute (default) or swap (to host memory)");
    f.add("policy", "POLICY", "scheduling: fcfs (default), priority (smaller first) or static (whole batches)");
    f.add("max-model-len", "N", "context length limit (default: the model's)", "MAX_SEQ_LEN");
    f.add_switch("no-prefix-caching", "do not reuse the KV blocks of equal prompt prefixes");
}

Result<SchedulingPolicy> parse_policy(const std::string& s) {
    if (s == "fcfs") return SchedulingPolicy::kFcfs;
    if (s == "priority") return SchedulingPolicy::kPriority;
    if (s == "static") return SchedulingPolicy::kStatic;
    return invalid_argument("--policy: expected fcfs, priority or static, got '" + s + "'");
}

Result<PreemptionMode> parse_preemption_mode(const std::string& s) {
    if (s == "recompute") return PreemptionMode::kRecompute;
    if (s == "swap") return PreemptionMode::kSwap;
    return invalid_argument("--preemption-mode: expected recompute or swap, got '" + s + "'");
}

Result<EngineConfig> engine_config_from_flags(const Flags& f, EngineConfig c) {
    KITE_ASSIGN_OR_RETURN(int64_t seqs, f.get_int("max-num-seqs", c.max_num_seqs, 1, 1 << 20));
    c.max_num_seqs = static_cast<int>(seqs);
    KITE_ASSIGN_OR_RETURN(int64_t tokens, f.get_int("max-num-batched-tokens", c.max_num_batched_tokens, 1, 1 << 24));
    c.max_num_batched_tokens = static_cast<int>(tokens);
    KITE_ASSIGN_OR_RETURN(int64_t block, f.get_int("block-size", c.block_size, 1, 4096));
    c.block_size = static_cast<int>(block);
    if (int(f.has("kv-cache-mem-mb")) + int(f.has("num-kv-blocks")) + int(f.has("kv-cache-mem-fraction")) > 1)
        return invalid_argument("give at most one of --kv-cache-mem-mb, --num-kv-blocks and --kv-cache-mem-fraction");
    KITE_ASSIGN_OR_RETURN(int64_t mb, f.get_int("kv-cache-mem-mb", c.kv_cache_mem_mb, 1, int64_t(1) << 30));
    c.kv_cache_mem_mb = mb;
    KITE_ASSIGN_OR_RETURN(int64_t blocks, f.get_int("num-kv-blocks", c.num_kv_blocks, 1, 1 << 30));
    c.num_kv_blocks = static_cast<int>(blocks);
    KITE_ASSIGN_OR_RETURN(c.kv_cache_mem_fraction, f.get_double("kv-cache-mem-fraction", c.kv_cache_mem_fraction, 1e-6, 1.0));
    // The flag given wins over a default of the others (EngineConfig reads blocks, then MiB, then fraction).
    if (f.has("kv-cache-mem-mb")) c.num_kv_blocks = 0;
    if (f.has("num-kv-blocks")) c.kv_cache_mem_mb = 0;
    if (f.has("kv-cache-mem-fraction")) c.num_kv_blocks = 0, c.kv_cache_mem_mb = 0;
    if (auto p = f.get("policy")) {
        KITE_ASSIGN_OR_RETURN(c.policy, parse_policy(*p));
    }
    if (auto m = f.get("preemption-mode")) {
        KITE_ASSIGN_OR_RETURN(c.preemption_mode, parse_preemption_mode(*m));
    }
    KITE_ASSIGN_OR_RETURN(int64_t len, f.get_int("max-model-len", c.max_model_len, 1, 1 << 24));
    c.max_model_len = static_cast<int>(len);
    if (f.get_switch("no-prefix-caching")) c.enable_prefix_caching = false;
    return c;
}

}  // namespace kite::cli
