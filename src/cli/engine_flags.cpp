// Model and engine flags -> LoadOptions and EngineConfig (see engine_flags.h). Environment
// variables use rtp-llm's names where it has one.
#include "cli/engine_flags.h"

#include "core/device.h"
#include "core/parallel.h"
#include "ops/quant.h"

namespace kite::cli {

Result<Device> parse_device(const std::string& name) {
    if (name == "cpu") return Device::kCpu;
    if (name != "cuda") return invalid_argument("--device: expected cpu or cuda, got '" + name + "'");
    std::string why;
    if (!cuda_available(&why)) return unavailable("--device cuda: " + why);
    return Device::kCuda;
}

void declare_load_flags(Flags& f) {
    f.section("Model and engine");
    f.add("device", "cpu|cuda", "where the model runs (default cpu)", "KITE_DEVICE");
    f.add_switch("dequantize-at-load",
                 "CPU: store GGUF blocks and f16/bf16 weights as f32 at load (same results, 2-8x the memory)",
                 "KITE_DEQUANTIZE_AT_LOAD");
    f.add_switch("keep-quantized", "accepted for compatibility: computing on the stored GGUF blocks is the default",
                 "KITE_KEEP_QUANTIZED");
    f.add_switch("cpu-int8-activations",
                 "CPU, GGUF Q4_0/Q4_1/Q5_0/Q5_1/Q8_0: quantize activations to int8 per block of 32 and use integer dot "
                 "products (faster, approximate; the default f32-activation path is exact)",
                 "KITE_CPU_INT8_ACTIVATIONS");
    f.add_switch("dummy-weights", "random weights from config.json alone (real shapes without a checkpoint)");
    f.add("threads", "N", "CPU threads (default: all cores)", "KITE_NUM_THREADS");
    // Quantization (docs/quantization.md).
    f.add("quantization", "int8|int4", "quantize every linear but the output head at load, weight-only (fp8: GPU only)");
    f.add("quant-group-size", "G", "inputs per scale: int4 default 128, int8 default one per output channel; -1: per channel");
    f.add_switch("quant-zero-point", "with --quantization: asymmetric, a zero point per group (default symmetric)");
    f.add("kv-cache-dtype", "auto|int8|fp8", "K/V cache storage: f32 (auto), or 8-bit codes with a scale per token and head (CPU)",
          "KV_CACHE_DTYPE");
}

// --quantization, --quant-group-size, --quant-zero-point and --kv-cache-dtype into `lo`.
Status quantization_from_flags(const Flags& f, LoadOptions& lo) {
    if (auto q = f.get("quantization")) {
        if (*q == "int8") lo.quant_bits = 8;
        else if (*q == "int4") lo.quant_bits = 4;
        else if (*q == "fp8") return unimplemented("--quantization fp8 needs a GPU build (no CPU FP8 path); use int8 or int4");
        else return invalid_argument("--quantization: expected int8, int4 or fp8, got '" + *q + "'");
    } else if (f.has("quant-group-size") || f.get_switch("quant-zero-point")) {
        return invalid_argument("--quant-group-size and --quant-zero-point need --quantization int8|int4");
    }
    KITE_ASSIGN_OR_RETURN(lo.quant_group_size, f.get_int("quant-group-size", lo.quant_bits == 4 ? 128 : -1, -1, 1 << 24));
    if (lo.quant_group_size == 0 || (lo.quant_group_size > 0 && lo.quant_group_size % 8 != 0))
        return invalid_argument("--quant-group-size " + std::to_string(lo.quant_group_size) +
                                ": expected a positive multiple of 8, or -1 for one scale per output channel");
    lo.quant_zero_point = f.get_switch("quant-zero-point");
    const std::string kvd = f.get_or("kv-cache-dtype", "auto");
    if (kvd == "int8") lo.kv_cache_dtype = ops::KvCacheDtype::kInt8;
    else if (kvd == "fp8" || kvd == "fp8_e4m3") lo.kv_cache_dtype = ops::KvCacheDtype::kFp8;
    else if (kvd != "auto") return invalid_argument("--kv-cache-dtype: expected auto, int8 or fp8, got '" + kvd + "'");
    return Status::ok();
}

Result<LoadOptions> load_options_from_flags(const Flags& f) {
    LoadOptions lo;
    lo.dequantize_at_load = f.get_switch("dequantize-at-load");
    if (lo.dequantize_at_load && f.get_switch("keep-quantized"))
        return invalid_argument("--dequantize-at-load and --keep-quantized contradict each other; pass one");
    lo.dummy_weights = f.get_switch("dummy-weights");
    KITE_ASSIGN_OR_RETURN(lo.device, parse_device(f.get_or("device", "cpu")));
    const bool int8 = f.get_switch("cpu-int8-activations");
    if (int8 && lo.device != Device::kCpu) return invalid_argument("--cpu-int8-activations applies to --device cpu only");
    if (int8 && lo.dequantize_at_load)
        return invalid_argument("--cpu-int8-activations computes on the stored GGUF blocks; drop --dequantize-at-load");
    ops::set_int8_activations(int8);  // process-wide: one model per process
    KITE_ASSIGN_OR_RETURN(int64_t threads, f.get_int("threads", 0, 0, 4096));
    if (threads > 0) set_num_threads(static_cast<int>(threads));
    KITE_RETURN_IF_ERROR(quantization_from_flags(f, lo));
    return lo;
}

void declare_engine_flags(Flags& f) {
    declare_load_flags(f);
    f.add("max-num-seqs", "N", "sequences running at once (default 256)", "MAX_NUM_SEQS");
    f.add("max-num-batched-tokens", "N", "tokens computed per engine step; longer prompts are prefilled in chunks (default 2048)",
          "MAX_NUM_BATCHED_TOKENS");
    f.add("max-model-len", "N", "context length limit (default: the model's)");
    f.add("max-seq-len", "N", "the same as --max-model-len (rtp-llm's name; --max-model-len wins)", "MAX_SEQ_LEN");
    f.add("kv-cache-mem-mb", "M", "KV cache budget in MiB (default: enough for max-num-seqs full contexts, at most 512 MiB "
          "on CPU, at most --gpu-memory-utilization of free GPU memory on CUDA)", "KV_CACHE_MEM_MB");
    f.add("num-kv-blocks", "B", "KV cache size in blocks (instead of --kv-cache-mem-mb)", "KITE_NUM_KV_BLOCKS");
    f.add("kv-cache-mem-fraction", "F", "KV cache as this fraction (0, 1] of the model device's available memory "
          "(instead of the above)");
    f.add("gpu-memory-utilization", "F", "CUDA: at most this fraction (0, 1] of free GPU memory for the KV cache (default 0.9)",
          "KITE_GPU_MEMORY_UTILIZATION");
    f.add("block-size", "S", "tokens per KV block (default 16)", "SEQ_SIZE_PER_BLOCK");
    f.add_switch("no-prefix-caching", "do not reuse the KV blocks of equal prompt prefixes");
    f.add("reuse-cache", "BOOL", "prefix caching on (1, default) or off (0); rtp-llm's name", "REUSE_CACHE");
    f.add("preemption-mode", "MODE", "when KV blocks run out: recompute (default) or swap (to host memory)",
          "KITE_PREEMPTION_MODE");
    f.add("policy", "POLICY", "scheduling: fcfs (default), priority (smaller first) or static (whole batches)", "KITE_POLICY");
    f.add("speculative-ngram", "N", "speculative decoding with prompt-lookup drafts: the tokens that followed the last "
          "earlier occurrence of the final N tokens (needs --num-speculative-tokens)");
    f.add("speculative-model", "PATH", "speculative decoding with a draft model (same tokenizer; not implemented yet)");
    f.add("num-speculative-tokens", "K", "draft tokens verified per sequence and step (output is unchanged)");
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

namespace {

Result<bool> parse_bool(const Flags& f, const std::string& name, bool fallback) {
    auto v = f.get(name);
    if (!v) return fallback;
    if (*v == "1" || *v == "true" || *v == "on" || *v == "yes") return true;
    if (*v == "0" || *v == "false" || *v == "off" || *v == "no") return false;
    return invalid_argument("--" + name + ": expected 1/0 or true/false, got '" + *v + "'");
}

}  // namespace

Result<EngineConfig> engine_config_from_flags(const Flags& f, EngineConfig c) {
    KITE_ASSIGN_OR_RETURN(int64_t seqs, f.get_int("max-num-seqs", c.max_num_seqs, 1, 1 << 20));
    c.max_num_seqs = static_cast<int>(seqs);
    KITE_ASSIGN_OR_RETURN(int64_t tokens, f.get_int("max-num-batched-tokens", c.max_num_batched_tokens, 1, 1 << 24));
    c.max_num_batched_tokens = static_cast<int>(tokens);
    KITE_ASSIGN_OR_RETURN(int64_t block, f.get_int("block-size", c.block_size, 1, 4096));
    c.block_size = static_cast<int>(block);
    // 0 (an environment default left empty in a deployment) means "not given". Two sizes on the
    // command line are an error; a size on the command line beats one from the environment.
    KITE_ASSIGN_OR_RETURN(int64_t mb, f.get_int("kv-cache-mem-mb", 0, 0, int64_t(1) << 30));
    KITE_ASSIGN_OR_RETURN(int64_t blocks, f.get_int("num-kv-blocks", 0, 0, 1 << 30));
    KITE_ASSIGN_OR_RETURN(double fraction, f.get_double("kv-cache-mem-fraction", 0.0, 1e-6, 1.0));
    const bool cli_mb = f.given("kv-cache-mem-mb"), cli_blocks = f.given("num-kv-blocks"),
               cli_fraction = f.given("kv-cache-mem-fraction");
    if (int(cli_mb) + int(cli_blocks) + int(cli_fraction) > 1)
        return invalid_argument("give at most one of --kv-cache-mem-mb, --num-kv-blocks and --kv-cache-mem-fraction");
    if (cli_mb || cli_blocks || cli_fraction) {
        if (!cli_mb) mb = 0;
        if (!cli_blocks) blocks = 0;
        if (!cli_fraction) fraction = 0;
    }
    // The size given wins over a default of the others; among environment variables, blocks, then
    // MiB, then the fraction (EngineConfig's order).
    if (blocks > 0) c.num_kv_blocks = static_cast<int>(blocks), c.kv_cache_mem_mb = 0, c.kv_cache_mem_fraction = 0;
    else if (mb > 0) c.kv_cache_mem_mb = mb, c.num_kv_blocks = 0, c.kv_cache_mem_fraction = 0;
    else if (fraction > 0) c.kv_cache_mem_fraction = fraction, c.num_kv_blocks = 0, c.kv_cache_mem_mb = 0;
    KITE_ASSIGN_OR_RETURN(c.gpu_memory_utilization,
                          f.get_double("gpu-memory-utilization", c.gpu_memory_utilization, 1e-6, 1.0));
    if (auto p = f.get("policy")) {
        KITE_ASSIGN_OR_RETURN(c.policy, parse_policy(*p));
    }
    if (auto m = f.get("preemption-mode")) {
        KITE_ASSIGN_OR_RETURN(c.preemption_mode, parse_preemption_mode(*m));
    }
    const char* len_flag = f.has("max-model-len") ? "max-model-len" : "max-seq-len";
    KITE_ASSIGN_OR_RETURN(int64_t len, f.get_int(len_flag, c.max_model_len, 0, 1 << 24));
    c.max_model_len = static_cast<int>(len);
    KITE_ASSIGN_OR_RETURN(bool reuse, parse_bool(f, "reuse-cache", c.enable_prefix_caching));
    c.enable_prefix_caching = reuse && !f.get_switch("no-prefix-caching");
    KITE_ASSIGN_OR_RETURN(int64_t ngram, f.get_int("speculative-ngram", c.speculative_ngram, 1, 1024));
    c.speculative_ngram = static_cast<int>(ngram);
    KITE_ASSIGN_OR_RETURN(int64_t k, f.get_int("num-speculative-tokens", c.num_speculative_tokens, 0, 64));
    c.num_speculative_tokens = static_cast<int>(k);
    if (auto m = f.get("speculative-model")) c.speculative_model = *m;
    return c;
}

}  // namespace kite::cli
