#!/usr/bin/env python3
"""Speculative decoding on CPU: output tokens/s with and without prompt-lookup drafts, and the
acceptance rate, for a code-editing prompt (the answer repeats the input) and a free chat prompt.

Two `kite serve` processes (one with --speculative-ngram, one without) run side by side; the
requests alternate between them so that machine load hits both alike, and the ratio of the two
is what to read. Greedy cases must give the same text with and without (same_text); sampled ones
keep the distribution, not the text.

  python3 bench/spec_decode_bench.py --binary build/kite --model models/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import argparse
import json
import re
import subprocess
import sys
import time
import urllib.request

RECORD = """{
  "id": 1042,
  "name": "Alice Smith",
  "age": 30,
  "email": "alice.smith@example.com",
  "address": {"street": "12 Rue de Rivoli", "city": "Paris", "zip": "75001", "country": "France"},
  "skills": ["python", "sql", "docker", "kubernetes", "terraform"],
  "projects": [
    {"name": "billing", "role": "lead", "since": 2019},
    {"name": "search", "role": "developer", "since": 2021}
  ],
  "active": true
}"""
CHAT = "Tell me a short story about a robot who learns to paint."
# (name, prompt, temperature). The edit of a document repeats most of the input (what prompt
# lookup is for); free chat greedy (a 135M model loops, which drafts predict well) and sampled.
CASES = [
    ("code-edit", "Change the age to 31 in this JSON and output the whole JSON:\n\n" + RECORD, 0.0),
    ("chat", CHAT, 0.0),
    ("chat-sampled", CHAT, 0.8),
]


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        text = r.read().decode()
    out = {}
    for name in ("kite:spec_decode_num_draft_tokens_total", "kite:spec_decode_num_accepted_tokens_total"):
        m = re.search("^" + re.escape(name) + r"\s+([0-9.e+]+)", text, re.M)
        out[name] = float(m.group(1)) if m else 0.0
    return out


def wait_ready(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"kite serve on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"kite serve on port {port} did not become ready")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/kite")
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ngram", type=int, default=3)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--port", type=int, default=18431)
    a = ap.parse_args()
    common = [a.binary, "serve", "--model", a.model, "--threads", str(a.threads), "--max-num-seqs", "4"]
    ports = {"base": a.port, "spec": a.port + 1}
    procs = {
        "base": subprocess.Popen(common + ["--port", str(ports["base"])], stderr=subprocess.DEVNULL),
        "spec": subprocess.Popen(common + ["--port", str(ports["spec"]), "--speculative-ngram", str(a.ngram),
                                           "--num-speculative-tokens", str(a.k)], stderr=subprocess.DEVNULL),
    }
    try:
        for k, p in procs.items():
            wait_ready(ports[k], p)
        rows = []
        for name, prompt, temperature in CASES:
            t = {"base": 0.0, "spec": 0.0}
            toks = {"base": 0, "spec": 0}
            texts = {}
            m0 = metrics(ports["spec"])
            body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": a.max_tokens,
                    "temperature": temperature, "seed": 7}
            for rep in range(a.reps + 1):  # rep 0 warms up (not counted)
                for k in (("base", "spec") if rep % 2 else ("spec", "base")):
                    t0 = time.perf_counter()
                    r = post(ports[k], "/v1/chat/completions", body)
                    dt = time.perf_counter() - t0
                    texts[k] = r["choices"][0]["message"]["content"]
                    if rep > 0:
                        t[k] += dt
                        toks[k] += r["usage"]["completion_tokens"]
            m1 = metrics(ports["spec"])
            drafts = m1["kite:spec_decode_num_draft_tokens_total"] - m0["kite:spec_decode_num_draft_tokens_total"]
            acc = m1["kite:spec_decode_num_accepted_tokens_total"] - m0["kite:spec_decode_num_accepted_tokens_total"]
            row = {"prompt": name, "tokens": toks["spec"] // a.reps, "base_tok_s": toks["base"] / t["base"],
                   "spec_tok_s": toks["spec"] / t["spec"], "speedup": (toks["spec"] / t["spec"]) / (toks["base"] / t["base"]),
                   "draft_tokens": drafts, "accepted": acc, "acceptance": acc / drafts if drafts else 0.0,
                   "same_text": texts["base"] == texts["spec"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        for p in procs.values():
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
