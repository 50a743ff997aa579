"""GGUF files of the shared family checkpoints (shared/families/<name>) load and match transformers.

Each checkpoint is written as GGUF the way llama.cpp's convert_hf_to_gguf.py writes it: tensor names
from the gguf package's own name map (gguf.get_tensor_name_map, independent of kite's tables), the
converter's layout changes (Gemma norms stored as 1 + w; Bloom / GPT-NeoX query_key_value reordered
to [q | k | v]; Falcon's kv groups regrouped to [q | k | v]) and llama.cpp's metadata keys. Then
test_model's Family.GgufMatchesTransformers loads them and checks logits and greedy ids against
reference.safetensors, as for the safetensors folders."""
import json
import os
import subprocess

import gguf  # scripts/setup.sh installs it; a missing package fails the test rather than skipping it
import numpy as np

KITE = os.environ.get("KITE_BINARY", "build/kite")
SHARED = os.environ.get("KITE_SHARED_DIR", "../shared")
TEST_MODEL = os.path.join(os.path.dirname(os.path.abspath(KITE)), "tests", "test_model")

SRC = os.environ.get("KITE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# Option cases of tests/data/families that llama.cpp's metadata can express (not gemma3_scaled_rope:
# GGUF has no key for a query_pre_attn_scalar other than head_dim).
OPTIONS = {"phi3_longrope": "PHI3", "falcon_new_arch": "FALCON", "gpt_neox_sequential": "GPTNEOX"}
ARCH = {"phi3": "PHI3", "gemma2": "GEMMA2", "gemma3": "GEMMA3", "glm4": "GLM4", "starcoder2": "STARCODER2",
        "phi": "PHI2", "gpt_neox": "GPTNEOX", "falcon": "FALCON", "gpt_bigcode": "STARCODER", "bloom": "BLOOM"}


def load_f32(path):
    # bf16 is stored as raw uint16 by safetensors.numpy: widen it to f32 by hand.
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[b:e]
        dt = info["dtype"]
        if dt == "BF16":
            a = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype={"F32": np.float32, "F16": np.float16}[dt]).astype(np.float32)
        out[name] = a.reshape(info["shape"]).copy()
    return out


def qkv_per_head_to_concat(t, heads):
    rest = t.shape[1:]
    d = t.shape[0] // (3 * heads)
    return t.reshape(heads, 3, d, *rest).transpose(1, 0, 2, *range(3, 3 + len(rest))).reshape(t.shape)


def falcon_groups_to_concat(t, heads, kv):
    d = t.shape[0] // (heads + 2 * kv)
    g = t.reshape(kv, heads // kv + 2, d, *t.shape[1:])
    q = g[:, :-2].reshape(heads * d, *t.shape[1:])
    k = g[:, -2].reshape(kv * d, *t.shape[1:])
    v = g[:, -1].reshape(kv * d, *t.shape[1:])
    return np.concatenate([q, k, v])


def write_gguf(case, out_path):
    option = case in OPTIONS
    folder = os.path.join(SRC, "tests", "data", "families", case) if option else os.path.join(SHARED, "families", case)
    name = {"PHI3": "phi3", "FALCON": "falcon", "GPTNEOX": "gpt_neox", "GEMMA3": "gemma3"}[OPTIONS[case]] if option else case
    cfg = json.load(open(os.path.join(folder, "config.json")))
    rope = cfg.get("rope_parameters") or {}
    full_rope = rope.get("full_attention", rope)  # Gemma 3 nests them per layer type
    tensors = load_f32(os.path.join(folder, "model.safetensors"))
    arch = getattr(gguf.MODEL_ARCH, OPTIONS[case] if option else ARCH[name])
    arch_name = gguf.MODEL_ARCH_NAMES[arch]
    hidden = cfg.get("hidden_size", cfg.get("n_embd"))
    layers = cfg.get("num_hidden_layers", cfg.get("n_layer"))
    heads = cfg.get("num_attention_heads", cfg.get("n_head"))
    kv = cfg.get("num_key_value_heads", heads)
    if name == "falcon":
        kv = cfg.get("num_kv_heads", 1) if cfg.get("new_decoder_architecture") or cfg.get("multi_query", True) else heads
    if name == "gpt_bigcode":
        kv = 1 if cfg.get("multi_query", True) else heads
    head_dim = cfg.get("head_dim", hidden // heads)
    ffn = cfg.get("intermediate_size", cfg.get("n_inner") or cfg.get("ffn_hidden_size") or 4 * hidden)

    w = gguf.GGUFWriter(out_path, arch_name)
    w.add_block_count(layers)
    w.add_context_length(cfg.get("max_position_embeddings", cfg.get("n_positions", 2048)))
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    if "rms_norm_eps" in cfg:
        w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    for key in ("layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"):
        if key in cfg:
            w.add_layer_norm_eps(cfg[key])
    w.add_rope_freq_base(cfg.get("rope_theta", cfg.get("rotary_emb_base", full_rope.get("rope_theta", 10000.0))))
    partial = cfg.get("partial_rotary_factor", cfg.get("rotary_pct", rope.get("partial_rotary_factor", 1.0)))
    w.add_rope_dimension_count(int(head_dim * partial))
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    if cfg.get("sliding_window"):
        w.add_sliding_window(cfg["sliding_window"])
    if name == "gemma2":
        w.add_attn_logit_softcapping(cfg["attn_logit_softcapping"])
        w.add_final_logit_softcapping(cfg["final_logit_softcapping"])
    if name == "gemma3":
        w.add_sliding_window_pattern([t == "sliding_attention" for t in cfg["layer_types"]])
        w.add_rope_freq_base_swa(cfg.get("rope_local_base_freq") or rope["sliding_attention"]["rope_theta"])
        for key in ("attn_logit_softcapping", "final_logit_softcapping"):
            if cfg.get(key):
                getattr(w, "add_" + key)(cfg[key])
        if full_rope.get("rope_type") == "linear":
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(full_rope["factor"])
    if name == "phi3" and rope.get("rope_type") == "longrope":
        # convert_hf_to_gguf's Phi-3: factors as tensors, the trained context, the cos/sin scale.
        import math
        orig, top = cfg["original_max_position_embeddings"], cfg["max_position_embeddings"]
        scale = top / orig
        w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0)
        w.add_rope_scaling_orig_ctx_len(orig)
        w.add_tensor("rope_factors_long.weight", np.array(rope["long_factor"], dtype=np.float32))
        w.add_tensor("rope_factors_short.weight", np.array(rope["short_factor"], dtype=np.float32))
    if name == "gpt_neox":
        w.add_parallel_residual(cfg.get("use_parallel_residual", True))

    names = gguf.get_tensor_name_map(arch, layers)
    for hf, t in tensors.items():
        key = hf[len("transformer."):] if name == "bloom" and hf.startswith("transformer.") else hf
        g = names.get_name(key, try_suffixes=(".weight", ".bias"))
        assert g is not None, f"{name}: the gguf package has no name for {hf}"
        if name.startswith("gemma") and hf.endswith("norm.weight"):
            t = t + 1.0
        if name in ("bloom", "gpt_neox") and "query_key_value" in hf:
            t = qkv_per_head_to_concat(t, heads)
        if name == "falcon" and "query_key_value" in hf:
            t = falcon_groups_to_concat(t, heads, kv)
        w.add_tensor(g, np.ascontiguousarray(t, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gguf_families_match_transformers(tmp_path):
    assert os.path.exists(TEST_MODEL), f"build test_model first ({TEST_MODEL})"
    for case in list(ARCH) + list(OPTIONS):
        write_gguf(case, str(tmp_path / f"{case}.gguf"))
    env = dict(os.environ, KITE_GGUF_FAMILIES_DIR=str(tmp_path))
    p = subprocess.run([TEST_MODEL, "--gtest_filter=*Family*.GgufMatchesTransformers*", "--gtest_color=no"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert f"[  PASSED  ] {len(ARCH) + len(OPTIONS)} tests." in p.stdout, p.stdout[-2000:]
    assert "SKIPPED" not in p.stdout
