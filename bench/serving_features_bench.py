"""Cost of structured output and of LoRA adapters in `kite serve`, side by side in one run.

  structured: the same N concurrent chat requests with and without a json_schema constraint (the
              grammar mask is computed per token by llguidance); output tokens/s of each.
  lora:       N concurrent greedy completions (ignore_eos) with the base model, all with one adapter,
              and mixed (base + each adapter in one batch); output tokens/s of each.

  python3 bench/serving_features_bench.py --kite build/kite --shared ../shared \
      [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--concurrency 8] [--tokens 64]
"""
import argparse
import concurrent.futures
import json
import os
import socket
import subprocess
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kite, model, *extra):
    port = free_port()
    proc = subprocess.Popen([kite, "serve", "--model", model, "--port", str(port), "--host", "127.0.0.1",
                             "--no-access-log", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if urllib.request.urlopen(base + "/health", timeout=1).status == 200:
                return proc, base
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def run(base, path, bodies):
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        outs = list(pool.map(lambda b: post(base + path, b), bodies))
    dt = time.perf_counter() - t0
    tokens = sum(o["usage"]["completion_tokens"] for o in outs)
    return tokens, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kite", default="build/kite")
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                               "tags": {"type": "array", "items": {"type": "string"}}},
              "required": ["name", "age", "tags"]}
    proc, base = start(a.kite, a.model)
    try:
        msgs = [{"role": "user", "content": "Describe a person as JSON."}]
        plain = [{"messages": msgs, "max_tokens": a.tokens, "temperature": 1.0, "seed": i, "ignore_eos": True}
                 for i in range(a.concurrency)]
        constrained = [dict(b, response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}})
                       for b in plain]
        run(base, "/v1/chat/completions", constrained[:1])  # builds the token trie once
        for name, bodies in [("unconstrained", plain), ("json_schema", constrained)]:
            best = max((lambda t: t[0] / t[1])(run(base, "/v1/chat/completions", bodies)) for _ in range(a.repeats))
            print(f"structured {name:14s} {best:10.1f} output tok/s")
    finally:
        proc.terminate()
        proc.wait()

    stories = os.path.join(a.shared, "models", "stories260K")
    names = ["qv-r4", "all-r8-rslora", "mlp-r2-rank-pattern"]
    extra = []
    for n in names:
        extra += ["--lora-modules", f"{n}={os.path.join(a.shared, 'lora', n)}"]
    proc, base = start(a.kite, stories, *extra)
    try:
        def bodies(models):
            return [{"model": models[i % len(models)], "prompt": "Once upon a time", "max_tokens": 4 * a.tokens,
                     "temperature": 0, "ignore_eos": True} for i in range(a.concurrency)]
        for name, models in [("base", ["stories260K"]), ("one adapter", ["all-r8-rslora"]),
                             ("mixed", ["stories260K"] + names)]:
            best = max((lambda t: t[0] / t[1])(run(base, "/v1/completions", bodies(models))) for _ in range(a.repeats))
            print(f"lora {name:20s} {best:10.1f} output tok/s")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
