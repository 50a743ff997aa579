#!/usr/bin/env python3
"""`kite serve` beside llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) on one GGUF file,
same threads, under the same client (bench/serve_load.py: streaming completions, fixed prompt and
output lengths, EOS ignored) at several concurrencies, one server at a time, side by side in one run.

Per server: startup time (process start to the first answered completion, file in page cache),
then per concurrency C: C * --requests-per-slot requests, requests/s, output tokens/s, TTFT and
TPOT median / p99, and the server's peak RSS (VmHWM of its process) at the end.

usage: bench/serve_vs_llamacpp.py [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--kite build/kite]
           [--threads 2] [--concurrency 1,4,16] [--input-len 64] [--output-len 64]
           [--requests-per-slot 4] [--kite-args "--cpu-int8-activations"] [--json]
"""
import argparse
import asyncio
import json
import os
import shlex
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_load  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def first_answer(port, deadline_s=120):
    """Seconds until a 1-token completion is answered (polling while the server starts)."""
    t0 = time.perf_counter()
    body = {"prompt": "Hello", "max_tokens": 1, "temperature": 0, "stream": True}
    while time.perf_counter() - t0 < deadline_s:
        try:
            r = asyncio.run(serve_load.stream_request("127.0.0.1", port, "/v1/completions", body, timeout=30))
            if r.status == 200 and not r.error:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"server on port {port} did not answer within {deadline_s} s")


def measure(name, cmd, port, args, env=None):
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        startup = first_answer(port) - t0
        rows = []
        for c in args.concurrency:
            ns = argparse.Namespace(url=f"http://127.0.0.1:{port}", api="completions", model="",
                                    num_requests=c * args.requests_per_slot, concurrency=c,
                                    request_rate=float("inf"), input_len=args.input_len,
                                    output_len=args.output_len, seed=0)
            rep = asyncio.run(serve_load.run(ns))
            rows.append(rep)
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"server": name, "startup_s": startup, "peak_rss_mb": rss, "rows": rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--kite", default=os.environ.get("KITE_BINARY", os.path.join(ROOT, "build/kite")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--input-len", type=int, default=64, help="prompt length in words")
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--requests-per-slot", type=int, default=4)
    ap.add_argument("--kite-args", default="", help="extra kite serve flags, e.g. --cpu-int8-activations")
    ap.add_argument("--kite-kv-mb", type=int, default=128,
                    help="kite's KV budget (f32; 128 MiB holds 16 x 170 tokens of this model)")
    ap.add_argument("--skip-llamacpp", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    servers = []
    port = free_port()
    kite_cmd = [args.kite, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", str(port),
                "--max-num-seqs", str(max(args.concurrency)), "--kv-cache-mem-mb", str(args.kite_kv_mb)] + shlex.split(args.kite_args)
    env = dict(os.environ, KITE_NUM_THREADS=str(args.threads))  # `kite serve` takes its thread count from here
    servers.append(measure("kite" + (" " + args.kite_args if args.kite_args else ""), kite_cmd, port, args, env))
    if not args.skip_llamacpp:
        port = free_port()
        # llama-cpp-python's server runs one request at a time; by default a new request interrupts
        # the running one (its stream just ends early), so queue them instead.
        lc_cmd = [sys.executable, "-m", "llama_cpp.server", "--model", args.model, "--host", "127.0.0.1",
                  "--port", str(port), "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads),
                  "--n_ctx", "2048", "--n_batch", "512", "--interrupt_requests", "False"]
        servers.append(measure("llama.cpp (llama-cpp-python server)", lc_cmd, port, args))
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"model": os.path.basename(args.model), "threads": args.threads, "loadavg": load,
                          "servers": servers}))
        return
    print(f"model {os.path.basename(args.model)}, {args.threads} threads, prompt {args.input_len} words, "
          f"{args.output_len} output tokens (EOS ignored), streaming /v1/completions; "
          f"load average at end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for s in servers:
        print(f"{s['server']}: startup to first answer {s['startup_s']:.2f} s, peak RSS {s['peak_rss_mb']:.0f} MiB")
    print("| concurrency | server | req/s | output tok/s | TTFT median / p99 ms | TPOT median / p99 ms | failed |")
    print("|---|---|---|---|---|---|---|")
    for i, c in enumerate(args.concurrency):
        for s in servers:
            r = s["rows"][i]
            print(f"| {c} | {s['server']} | {r['request_throughput']:.2f} | {r['output_throughput']:.1f} | "
                  f"{r['median_ttft_ms']:.0f} / {r['p99_ttft_ms']:.0f} | {r['median_tpot_ms']:.1f} / "
                  f"{r['p99_tpot_ms']:.1f} | {r['failed']} |")


if __name__ == "__main__":
    main()
