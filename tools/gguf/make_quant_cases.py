#!/usr/bin/env python3
"""Writes a GGUF file of dequantization test cases for kite's tests/ops/test_quant.cpp.

For every type kite supports, tensor `q.<type>` holds quantized blocks and `ref.<type>` (F32) holds
what the `gguf` PyPI package's reference `gguf.quants.dequantize` makes of them. Blocks come from
`gguf.quants.quantize` on random data where the package can quantize the type, and from random
bytes (with finite f16 scales) for the K-quants it cannot; with --model, real tensors of that GGUF
file are added too (`q.model.<name>`, first rows only to stay small), and, when llama-cpp-python is
installed, real K-quant tensors made by llama.cpp's own quantizer from that model (requantized to
Q4_K_M and Q5_K_M in a temp dir: `q.llamacpp.<ftype>.<name>`).

usage: make_quant_cases.py OUT.gguf [--model FILE.gguf]
"""
import argparse
import ctypes
import os
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

ROWS, COLS = 8, 512


def random_blocks(rng, qtype, rows, cols):
    """Random bytes with every f16 scale field set to a finite, moderate value."""
    elems, size = GGML_QUANT_SIZES[qtype]
    nblocks = rows * cols // elems
    b = rng.integers(0, 256, size=(nblocks, size), dtype=np.uint8)
    def f16(n):
        return (rng.standard_normal(n) * 0.01).astype(np.float16).view(np.uint8).reshape(n, 2)
    if qtype in (T.Q4_K, T.Q5_K):  # d, dmin at bytes 0..3
        b[:, 0:2] = f16(nblocks)
        b[:, 2:4] = f16(nblocks)
    elif qtype == T.Q6_K:  # d at the end
        b[:, 208:210] = f16(nblocks)
    return b.reshape(rows, cols // elems * size)


def add_model_tensors(w, path, prefix, skip_types):
    """First rows of one tensor of each quantized type in `path`, with the package's dequantization."""
    r = gguf.GGUFReader(path)
    seen = set(skip_types)
    for t in r.tensors:
        if t.tensor_type in seen or t.tensor_type == T.F32:
            continue
        seen.add(t.tensor_type)
        rows = np.asarray(t.data)[:64]  # first 64 rows, still in their quantized bytes
        w.add_tensor(f"q.{prefix}{t.name}", rows, raw_shape=rows.shape, raw_dtype=t.tensor_type)
        w.add_tensor(f"ref.{prefix}{t.name}", gguf.quants.dequantize(rows, t.tensor_type).astype(np.float32))
    return seen


def add_llamacpp_requantized(w, model):
    """Q4_K/Q5_K/Q6_K tensors as llama.cpp itself makes them (needs llama-cpp-python)."""
    try:
        import llama_cpp
    except ImportError:
        print("make_quant_cases: llama_cpp not installed; no llama.cpp-made K-quant tensors")
        return
    # llama.cpp logs a line per tensor to stderr; keep the test output readable.
    @ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
    def quiet(level, text, user_data):
        pass
    llama_cpp.llama_log_set(quiet, None)
    with tempfile.TemporaryDirectory() as tmp:
        seen = {T.Q4_1, T.Q8_0}
        for name in ("LLAMA_FTYPE_MOSTLY_Q4_K_M", "LLAMA_FTYPE_MOSTLY_Q5_K_M"):
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = getattr(llama_cpp, name)
            params.allow_requantize = True
            out = os.path.join(tmp, name + ".gguf")
            if llama_cpp.llama_model_quantize(model.encode(), out.encode(), ctypes.byref(params)) != 0:
                raise SystemExit(f"make_quant_cases: llama.cpp could not requantize {model} to {name}")
            seen = add_model_tensors(w, out, f"llamacpp.{name[19:]}.", seen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--model")
    args = ap.parse_args()
    rng = np.random.default_rng(1234)
    w = gguf.GGUFWriter(args.out, "kite-quant-cases")
    data = (rng.standard_normal((ROWS, COLS)) * rng.uniform(0.01, 2.0, size=(ROWS, 1))).astype(np.float32)
    data[0, :32] = 0.0  # an all-zero block (d == 0)
    for qtype in (T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1):
        q = gguf.quants.quantize(data, qtype)
        w.add_tensor(f"q.{qtype.name}", q, raw_shape=q.shape, raw_dtype=qtype)
        w.add_tensor(f"ref.{qtype.name}", gguf.quants.dequantize(q, qtype).astype(np.float32))
    for qtype in (T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1):
        q = random_blocks(rng, qtype, ROWS, COLS)
        if qtype not in (T.Q4_K, T.Q5_K, T.Q6_K):  # fix the random f16 scale fields of 32-blocks too
            elems, size = GGML_QUANT_SIZES[qtype]
            blk = q.reshape(-1, size)
            nsc = 2 if qtype in (T.Q4_1, T.Q5_1) else 1
            for i in range(nsc):
                blk[:, 2 * i:2 * i + 2] = (rng.standard_normal((blk.shape[0], 1)) * 0.01).astype(np.float16).view(np.uint8)
        name = f"rnd.{qtype.name}"
        w.add_tensor(f"q.{name}", q, raw_shape=q.shape, raw_dtype=qtype)
        w.add_tensor(f"ref.{name}", gguf.quants.dequantize(q, qtype).astype(np.float32))
    if args.model:
        add_model_tensors(w, args.model, "model.", set())
        add_llamacpp_requantized(w, args.model)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
