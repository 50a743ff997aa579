#!/usr/bin/env python3
"""CPU decode speed on one GGUF file: kite (`kite generate`) beside llama.cpp (llama-cpp-python).

Both decode the same prompt ids greedily with EOS ignored, on the same number of threads.
kite's decode rate comes from two runs that differ only in --max-new-tokens (1 and 1 + N): the
difference in wall time is N decode steps, with loading and prefill cancelled out. llama.cpp is
timed in-process around its per-token eval calls. Best of --repeats for each.

usage: bench/gguf_vs_llamacpp.py [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--kite build/kite]
                                 [--threads 1,2] [--new-tokens 128] [--repeats 3] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The chat-formatted "What is the capital of France?" of the reference data (37 tokens, SmolLM2 vocabulary).
with open(os.path.join(ROOT, "tests/data/gguf_reference.json")) as f:
    PROMPT_IDS = next(p for p in json.load(f)["prompts"] if p["name"] == "chat_capital")["prompt_ids"]


def kite_run(kite, model, threads, new_tokens, extra):
    cmd = [kite, "generate", "--model", model, "--prompt-ids", ",".join(map(str, PROMPT_IDS)),
           "--max-new-tokens", str(new_tokens), "--ignore-eos", "--temperature", "0", "--json",
           "--threads", str(threads)] + extra
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"kite failed: {' '.join(cmd)}\n{r.stderr.strip()}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(out["output_ids"]) == new_tokens, out
    return dt, out["output_ids"]


def kite_decode_tps(kite, model, threads, n, repeats, extra):
    best = None
    ids = None
    for _ in range(repeats):
        t1, _ = kite_run(kite, model, threads, 1, extra)
        t2, ids = kite_run(kite, model, threads, 1 + n, extra)
        tps = n / max(t2 - t1, 1e-9)
        best = tps if best is None else max(best, tps)
    return best, ids


def llamacpp_decode_tps(model, threads, n, repeats):
    import numpy as np
    from llama_cpp import Llama
    llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=512, n_batch=512,
                logits_all=True, verbose=False)  # scores[] is only filled with logits_all
    best, ids = None, None
    for _ in range(repeats):
        llm.reset()
        llm.eval(PROMPT_IDS)
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out = [nxt]
        t0 = time.perf_counter()
        for _ in range(n):
            llm.eval([nxt])
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            out.append(nxt)
        tps = n / (time.perf_counter() - t0)
        if best is None or tps > best:
            best, ids = tps, out
    return best, ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--kite", default=os.environ.get("KITE_BINARY", os.path.join(ROOT, "build/kite")))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for t in [int(x) for x in args.threads.split(",")]:
        kq, kq_ids = kite_decode_tps(args.kite, args.model, t, args.new_tokens, args.repeats, ["--keep-quantized"])
        kf, _ = kite_decode_tps(args.kite, args.model, t, args.new_tokens, args.repeats, [])
        lc, lc_ids = llamacpp_decode_tps(args.model, t, args.new_tokens, args.repeats)
        same = 0
        while same < min(len(kq_ids), len(lc_ids)) and kq_ids[same] == lc_ids[same]:
            same += 1
        rows.append({"threads": t, "kite_quantized_tps": kq, "kite_f32_tps": kf, "llamacpp_tps": lc,
                     "kite_vs_llamacpp": kq / lc, "greedy_prefix_agreement": same})
    if args.json:
        print(json.dumps({"model": os.path.basename(args.model), "new_tokens": args.new_tokens, "rows": rows}))
        return
    print(f"model {os.path.basename(args.model)}, {len(PROMPT_IDS)} prompt tokens, {args.new_tokens} new tokens, "
          f"greedy, EOS ignored, best of {args.repeats}")
    print("| threads | kite (quantized blocks) tok/s | kite (dequantized f32) tok/s | llama.cpp tok/s | kite/llama.cpp | same greedy ids |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['threads']} | {r['kite_quantized_tps']:.1f} | {r['kite_f32_tps']:.1f} | {r['llamacpp_tps']:.1f} | "
              f"{r['kite_vs_llamacpp']:.2f} | first {r['greedy_prefix_agreement']} |")


if __name__ == "__main__":
    main()
