#!/usr/bin/env python3
"""CPU decode and prefill speed on one GGUF file: kite (`kite generate`) beside llama.cpp (llama-cpp-python).

Decode: both decode the same prompt ids greedily with EOS ignored, on the same number of threads.
kite's decode rate comes from two runs that differ only in --max-new-tokens (1 and 1 + N): the
difference in wall time is N decode steps, with loading and prefill cancelled out. llama.cpp is
timed in-process around its per-token eval calls.
Prefill: a --prefill-len-token prompt (fixed ids). kite: two runs with 1 new token, prompts of
--prefill-len and 1 tokens, difference in wall time; llama.cpp: one eval() of the whole prompt.
kite runs in its default mode (f32 activations on the stored blocks, exact) and with
--cpu-int8-activations. Best of --repeats for each; runs of the two engines alternate.

usage: bench/gguf_vs_llamacpp.py [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--kite build/kite]
                                 [--threads 1,2] [--new-tokens 128] [--prefill-len 512] [--repeats 3]
                                 [--modes default,int8,dequantize] [--json]
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

MODES = {"default": [], "int8": ["--cpu-int8-activations"], "dequantize": ["--dequantize-at-load"]}


def kite_run(kite, model, threads, prompt, new_tokens, extra):
    cmd = [kite, "generate", "--model", model, "--prompt-ids", ",".join(map(str, prompt)),
           "--max-new-tokens", str(new_tokens), "--ignore-eos", "--temperature", "0", "--json",
           "--threads", str(threads)] + extra
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"kite failed: {' '.join(cmd[:4])} ...\n{r.stderr.strip()}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(out["output_ids"]) == new_tokens, out
    return dt, out["output_ids"]


def kite_decode_tps(kite, model, threads, n, extra):
    t1, _ = kite_run(kite, model, threads, PROMPT_IDS, 1, extra)
    t2, ids = kite_run(kite, model, threads, PROMPT_IDS, 1 + n, extra)
    return n / max(t2 - t1, 1e-9), ids


def kite_prefill_tps(kite, model, threads, prompt, extra):
    t1, _ = kite_run(kite, model, threads, prompt[:1], 1, extra)
    t2, _ = kite_run(kite, model, threads, prompt, 1, extra)
    return (len(prompt) - 1) / max(t2 - t1, 1e-9)


class LlamaCpp:
    def __init__(self, model, threads, ctx):
        from llama_cpp import Llama
        self.llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=ctx, n_batch=512,
                         n_ubatch=512, logits_all=True, verbose=False)  # scores[] is only filled with logits_all

    def decode_tps(self, n):
        import numpy as np
        llm = self.llm
        llm.reset()
        llm.eval(PROMPT_IDS)
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out = [nxt]
        t0 = time.perf_counter()
        for _ in range(n):
            llm.eval([nxt])
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            out.append(nxt)
        return n / (time.perf_counter() - t0), out

    def prefill_tps(self, prompt):
        self.llm.reset()
        t0 = time.perf_counter()
        self.llm.eval(prompt)
        return len(prompt) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--kite", default=os.environ.get("KITE_BINARY", os.path.join(ROOT, "build/kite")))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--prefill-len", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="default,int8")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    modes = args.modes.split(",")
    for m in modes:
        if m not in MODES:
            sys.exit(f"--modes: unknown mode '{m}' (expected some of {', '.join(MODES)})")
    prompt = [(i * 7919) % 48000 + 100 for i in range(args.prefill_len)]  # fixed ordinary-token ids
    rows = []
    for t in [int(x) for x in args.threads.split(",")]:
        lc = LlamaCpp(args.model, t, args.prefill_len + 64)
        row = {"threads": t}
        best = lambda key, v: row.__setitem__(key, max(row.get(key, 0.0), v))
        for _ in range(args.repeats):  # alternate engines so load changes hit both alike
            for m in modes:
                tps, ids = kite_decode_tps(args.kite, args.model, t, args.new_tokens, MODES[m])
                best(f"kite_{m}_decode", tps)
                row[f"kite_{m}_ids"] = ids
                best(f"kite_{m}_prefill", kite_prefill_tps(args.kite, args.model, t, prompt, MODES[m]))
            tps, ids = lc.decode_tps(args.new_tokens)
            best("llamacpp_decode", tps)
            row["llamacpp_ids"] = ids
            best("llamacpp_prefill", lc.prefill_tps(prompt))
        del lc
        rows.append(row)
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"model": os.path.basename(args.model), "new_tokens": args.new_tokens,
                          "prefill_len": args.prefill_len, "loadavg": load, "rows": rows}))
        return
    print(f"model {os.path.basename(args.model)}; decode: {len(PROMPT_IDS)} prompt tokens, {args.new_tokens} new "
          f"tokens, greedy, EOS ignored; prefill: {args.prefill_len} tokens; best of {args.repeats}; "
          f"load average at end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| threads | phase | " + " | ".join(f"kite {m} tok/s" for m in modes) + " | llama.cpp tok/s | "
          + " | ".join(f"{m} / llama.cpp" for m in modes) + " |")
    print("|---" * (3 + 2 * len(modes)) + "|")
    for r in rows:
        for ph in ("decode", "prefill"):
            lc = r[f"llamacpp_{ph}"]
            print(f"| {r['threads']} | {ph} | " + " | ".join(f"{r[f'kite_{m}_{ph}']:.1f}" for m in modes)
                  + f" | {lc:.1f} | " + " | ".join(f"{r[f'kite_{m}_{ph}'] / lc:.2f}" for m in modes) + " |")
    for r in rows:
        for m in modes:
            a, b = r[f"kite_{m}_ids"], r["llamacpp_ids"]
            same = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            print(f"threads {r['threads']}: kite {m} and llama.cpp greedy ids agree for the first {same}")


if __name__ == "__main__":
    main()
