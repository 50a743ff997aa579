#!/usr/bin/env python3
"""Small seed files for tests/fuzz/fuzz_gguf.cpp, written with the `gguf` package's writer:
every metadata value type (nested arrays too), a cut-down llama header, and one tiny tensor of each
type kite supports. usage: make_fuzz_seeds.py OUT_DIR"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, qtype in enumerate([T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]):
        w = gguf.GGUFWriter(os.path.join(out, f"seed_{i}_{qtype.name}.gguf"), "llama")
        w.add_uint32("llama.block_count", 1)
        w.add_float32("llama.rope.freq_base", 10000.0)
        w.add_bool("tokenizer.ggml.add_bos_token", True)
        w.add_array("tokenizer.ggml.tokens", ["<s>", "a", "\u0120b"])
        w.add_array("tokenizer.ggml.scores", [0.0, -1.5, -2.0])
        w.add_array("tokenizer.ggml.token_type", [3, 1, 1])
        w.add_array("nested", [[1, 2], [3]])
        w.add_int64("i64", -5)
        w.add_float64("f64", 0.25)
        w.add_string("tokenizer.chat_template", "{{ messages }}")
        data = rng.standard_normal((2, 32)).astype(np.float32)
        if qtype == T.F32:
            w.add_tensor("token_embd.weight", data)
        else:
            q = gguf.quants.quantize(data, qtype)
            w.add_tensor("token_embd.weight", q, raw_shape=q.shape, raw_dtype=qtype)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    # K-quants: one 256-block of random bytes each.
    for qtype, size in ((T.Q4_K, 144), (T.Q5_K, 176), (T.Q6_K, 210)):
        w = gguf.GGUFWriter(os.path.join(out, f"seed_k_{qtype.name}.gguf"), "llama")
        b = rng.integers(0, 256, size=(1, size), dtype=np.uint8)
        w.add_tensor("t", b, raw_shape=b.shape, raw_dtype=qtype)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


if __name__ == "__main__":
    main()
