#!/usr/bin/env python3
"""Writes a GGUF file of dequantization test cases for kite's tests/ops/test_quant.cpp.

For every type kite supports, tensor `q.<type>` holds quantized blocks and `ref.<type>` (F32) holds
what the `gguf` PyPI package's reference `gguf.quants.dequantize` makes of them. Blocks come from
`gguf.quants.quantize` on random data where the package can quantize the type, and from random
bytes (with finite f16 scales) for the K-quants it cannot; with --model, real tensors of that GGUF
file are added too (`q.model.<name>`, first rows only to stay small).

usage: make_quant_cases.py OUT.gguf [--model FILE.gguf]
"""
import argparse

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
        r = gguf.GGUFReader(args.model)
        seen = set()
        for t in r.tensors:
            if t.tensor_type in seen or t.tensor_type == T.F32:
                continue
            seen.add(t.tensor_type)
            rows = np.asarray(t.data)[:64]  # first 64 rows, still in their quantized bytes
            w.add_tensor(f"q.model.{t.name}", rows, raw_shape=rows.shape, raw_dtype=t.tensor_type)
            w.add_tensor(f"ref.model.{t.name}", gguf.quants.dequantize(rows, t.tensor_type).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
