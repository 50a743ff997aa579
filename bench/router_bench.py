"""`kite router` over several `kite serve` backends on one machine: throughput and TTFT per policy at
64 and 256 concurrent streams, a shared-prefix workload (cached-token ratio and TTFT per policy), the
router's own overhead (added latency at concurrency 1, router CPU per streamed token), a backend
killed mid-run, and continuously vs statically batching backends behind one router.

    python3 bench/router_bench.py --kite build/kite --model ../shared/models/stories260K --backends 3

Prints one JSON object per measurement and a Markdown table at the end (docs/benchmarks.md).
Uses bench/serve_load.py's client (stream_request)."""
import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from serve_load import WORDS, pct, stream_request, stream_text  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ok(url, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready")


class Proc:
    def __init__(self, cmd, health):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ok(health)

    def cpu_s(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def backend(args, *extra):
    port = free_port()
    p = Proc([args.kite, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", str(port),
              "--no-access-log", *extra], f"http://127.0.0.1:{port}/health")
    p.url = f"http://127.0.0.1:{port}"
    return p


def router(args, backends, policy):
    port = free_port()
    cmd = [args.kite, "router", "--host", "127.0.0.1", "--port", str(port), "--policy", policy,
           "--no-access-log", "--health-interval-ms", "500"]
    for b in backends:
        cmd += ["--backend", b.url]
    p = Proc(cmd, f"http://127.0.0.1:{port}/health")
    p.url = f"http://127.0.0.1:{port}"
    return p


def body_random(rng, input_len, output_len):
    prompt = " ".join(rng.choice(WORDS) for _ in range(input_len))
    return {"prompt": prompt, "max_tokens": output_len, "temperature": 0, "ignore_eos": True, "stream": True,
            "stream_options": {"include_usage": True}}


def body_shared_prefix(rng, systems, output_len):
    prompt = rng.choice(systems) + " Question: " + " ".join(rng.choice(WORDS) for _ in range(10))
    return {"prompt": prompt, "max_tokens": output_len, "temperature": 0, "ignore_eos": True, "stream": True,
            "stream_options": {"include_usage": True}}


async def load(url, bodies, concurrency, on_start=None):
    host, port = url.split("//")[1].split(":")
    sem = asyncio.Semaphore(concurrency)
    results = []

    async def one(b):
        async with sem:
            results.append(await stream_request(host, int(port), "/v1/completions", b))

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(one(b)) for b in bodies]
    if on_start:
        await on_start()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    ok = [r for r in results if r.status == 200 and not r.error]
    ttft, out_tokens, cached, prompt_tokens, cut = [], 0, 0, 0, 0
    for r in ok:
        if any('"error"' in e for e in r.events):
            cut += 1
            continue
        _, n = stream_text(r, "completions")
        out_tokens += n
        usage = next((json.loads(e)["usage"] for e in r.events if e != "[DONE]" and json.loads(e).get("usage")), None)
        if usage:
            prompt_tokens += usage["prompt_tokens"]
            cached += (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        if r.event_times:
            ttft.append((r.event_times[0] - r.start) * 1e3)
    return {"requests": len(bodies), "ok": len(ok), "failed": len(results) - len(ok), "cut_mid_stream": cut,
            "req_s": len(ok) / wall, "out_tok_s": out_tokens / wall, "out_tokens": out_tokens,
            "ttft_p50_ms": pct(ttft, 50), "ttft_p99_ms": pct(ttft, 99),
            "cached_ratio": cached / prompt_tokens if prompt_tokens else 0.0}


def emit(rows, **row):
    rows.append(row)
    print(json.dumps(row), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kite", default="build/kite")
    p.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "models", "stories260K"))
    p.add_argument("--backends", type=int, default=3)
    p.add_argument("--output-len", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["all", "split"], default="all",
                   help="split: only the frontend/backend split measurement")
    args = p.parse_args()
    rng = random.Random(args.seed)
    rows = []
    systems = [f"System {i}: " + " ".join(rng.choice(WORDS) for _ in range(120)) for i in range(10)]

    if args.only == "split":
        split(args, rng, rows)
        return print_table(rows)
    backends = [backend(args) for _ in range(args.backends)]
    try:
        for policy in ("round-robin", "least-load", "prefix-cache"):
            r = router(args, backends, policy)
            try:
                for conc, n in ((64, 256), (256, 512)):
                    bodies = [body_random(rng, 32, args.output_len) for _ in range(n)]
                    emit(rows, workload="random", policy=policy, concurrency=conc, **asyncio.run(load(r.url, bodies, conc)))
                bodies = [body_shared_prefix(rng, systems, args.output_len) for _ in range(300)]
                emit(rows, workload="shared-prefix", policy=policy, concurrency=64, **asyncio.run(load(r.url, bodies, 64)))
            finally:
                r.stop()

        # The router's own cost: the same sequential requests direct and through it.
        r = router(args, backends[:1], "round-robin")
        try:
            bodies = [body_random(rng, 32, args.output_len) for _ in range(50)]
            direct = asyncio.run(load(backends[0].url, bodies, 1))
            cpu0 = r.cpu_s()
            routed = asyncio.run(load(r.url, bodies, 1))
            cpu = r.cpu_s() - cpu0
            emit(rows, workload="overhead", policy="round-robin", concurrency=1,
                 added_ttft_p50_ms=routed["ttft_p50_ms"] - direct["ttft_p50_ms"],
                 router_cpu_us_per_token=1e6 * cpu / max(1, routed["out_tokens"]), **routed)
        finally:
            r.stop()

        # A backend killed mid-run: requests that had not started streaming must all succeed.
        victim = backend(args)
        r = router(args, backends[:1] + [victim], "round-robin")
        try:
            async def kill_soon():
                await asyncio.sleep(1.0)
                victim.stop(signal.SIGKILL)
            bodies = [body_random(rng, 32, 128) for _ in range(300)]
            emit(rows, workload="kill-one-backend", policy="round-robin", concurrency=64,
                 **asyncio.run(load(r.url, bodies, 64, on_start=kill_soon)))
        finally:
            r.stop()
            victim.stop()
    finally:
        for b in backends:
            b.stop()

    # Continuous vs static batching backends under the same load (seed 002's comparison).
    for sched in ("fcfs", "static"):
        bs = [backend(args, "--policy", sched) for _ in range(2)]
        r = router(args, bs, "least-load")
        try:
            bodies = [dict(body_random(rng, 32, rng.randint(8, 96))) for _ in range(256)]
            emit(rows, workload=f"backends-{'continuous' if sched == 'fcfs' else 'static'}", policy="least-load",
                 concurrency=64, **asyncio.run(load(r.url, bodies, 64)))
        finally:
            r.stop()
            for b in bs:
                b.stop()

    split(args, rng, rows)
    print_table(rows)


def split(args, rng, rows):
    """Frontend/backend split: backend CPU seconds per request for long text prompts (200 words, about 260
    tokens, 1 output token) routed as text vs tokenized by the router (--tokenizer)."""
    for mode in ("text", "router-tokenizes"):
        b = backend(args)
        extra = ["--tokenizer", args.model] if mode != "text" else []
        port = free_port()
        cmd = [args.kite, "router", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--backend", b.url] + extra
        r = Proc(cmd, f"http://127.0.0.1:{port}/health")
        r.url = f"http://127.0.0.1:{port}"
        try:
            bodies = [body_random(rng, 200, 1) for _ in range(300)]
            cpu_b, cpu_r = b.cpu_s(), r.cpu_s()
            res = asyncio.run(load(r.url, bodies, 16))
            res["backend_cpu_ms_per_req"] = 1e3 * (b.cpu_s() - cpu_b) / len(bodies)
            res["router_cpu_ms_per_req"] = 1e3 * (r.cpu_s() - cpu_r) / len(bodies)
            emit(rows, workload=f"split-{mode}", policy="round-robin", concurrency=16, **res)
        finally:
            r.stop()
            b.stop()


def print_table(rows):
    print("\n| workload | policy | conc. | ok / failed | req/s | out tok/s | TTFT p50 / p99 (ms) | cached ratio | notes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        notes = ""
        if "added_ttft_p50_ms" in row:
            notes = f"+{row['added_ttft_p50_ms']:.2f} ms TTFT p50; {row['router_cpu_us_per_token']:.1f} us router CPU/token"
        if row["workload"] == "kill-one-backend":
            notes = f"{row['cut_mid_stream']} cut mid-stream"
        if row["workload"].startswith("split-"):
            notes = f"backend CPU {row['backend_cpu_ms_per_req']:.2f} ms/req, router CPU {row['router_cpu_ms_per_req']:.2f} ms/req"
        print(f"| {row['workload']} | {row['policy']} | {row['concurrency']} | {row['ok']} / {row['failed']} | "
              f"{row['req_s']:.1f} | {row['out_tok_s']:.0f} | {row['ttft_p50_ms']:.1f} / {row['ttft_p99_ms']:.1f} | "
              f"{row['cached_ratio']:.2f} | {notes} |")


if __name__ == "__main__":
    main()
