#!/usr/bin/env python3
"""Load benchmark for `kite serve` (or any OpenAI-compatible server): sends streaming requests at a
given concurrency (and optional Poisson request rate) and reports what serving benchmarks report:
request throughput, output tokens/s, TTFT, TPOT, ITL and end-to-end latency (mean, median, p99).

A small asyncio client of its own (no aiohttp/guidellm offline here): HTTP/1.1 over asyncio streams
with chunked decoding, one connection per request. tests/py/test_server_load.py reuses stream_request.

  python3 bench/serve_load.py --url http://127.0.0.1:8088 --num-requests 200 --concurrency 64 \
      --input-len 32 --output-len 64 [--api completions|chat] [--request-rate R] [--json]
"""
import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from urllib.parse import urlparse


class Result:
    def __init__(self):
        self.status = 0
        self.events = []        # SSE payloads (str), or the whole body when not streaming
        self.event_times = []   # perf_counter of each event that carried text
        self.start = 0.0
        self.end = 0.0
        self.error = ""
        self.output_tokens = 0


async def _read_chunked(reader):
    while True:
        line = await reader.readline()
        if not line:
            return
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


async def stream_request(host, port, path, body, abort_after_events=None, timeout=600):
    """POSTs `body` (a dict) and collects the response. With abort_after_events=k, resets the
    connection after k SSE events (a client that vanishes mid-stream)."""
    res = Result()
    res.start = time.perf_counter()
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(head + payload)
        await writer.drain()
        status_line = await reader.readline()
        res.status = int(status_line.split()[1])
        headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            buf = b""
            async for chunk in _read_chunked(reader):
                buf += chunk
                while b"\n\n" in buf:
                    event, buf = buf.split(b"\n\n", 1)
                    text = event.decode()
                    if text.startswith("data:"):
                        res.events.append(text[5:].strip())
                        res.event_times.append(time.perf_counter())
                        if abort_after_events is not None and len(res.events) >= abort_after_events:
                            writer.transport.abort()
                            res.end = time.perf_counter()
                            return res
        else:
            n = int(headers.get("content-length", "-1"))
            res.events.append((await reader.readexactly(n) if n >= 0 else await reader.read()).decode())
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError) as e:
        res.error = f"{type(e).__name__}: {e}"
    finally:
        if writer is not None and not writer.transport.is_closing():
            writer.close()
    res.end = time.perf_counter()
    return res


def stream_text(res, api):
    """Concatenated text of an OpenAI stream (completions or chat) and its completion tokens (from the
    usage chunk; servers that send none, such as llama-cpp-python's, one token per text chunk)."""
    text, tokens, chunks = "", 0, 0
    for e in res.events:
        if e == "[DONE]":
            continue
        j = json.loads(e)
        if j.get("usage"):
            tokens = j["usage"]["completion_tokens"]
        for c in j.get("choices", []):
            piece = c.get("text", "") if api == "completions" else (c.get("delta", {}).get("content") or "")
            text += piece
            chunks += 1 if piece else 0
    return text, tokens or chunks


WORDS = ("once upon a time there was a little girl named lily she loved to play outside in the park with her "
         "friends one day saw big red ball dog tom mom went store happy sun tree").split()


def make_body(api, model, input_len, output_len, rng):
    prompt = " ".join(rng.choice(WORDS) for _ in range(max(1, input_len)))
    common = {"max_tokens": output_len, "temperature": 0, "stream": True, "stream_options": {"include_usage": True},
              "ignore_eos": True}
    if model:
        common["model"] = model
    if api == "chat":
        return "/v1/chat/completions", dict(common, messages=[{"role": "user", "content": prompt}])
    return "/v1/completions", dict(common, prompt=prompt)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(name, xs_ms):
    return {f"mean_{name}_ms": statistics.fmean(xs_ms) if xs_ms else float("nan"),
            f"median_{name}_ms": pct(xs_ms, 50), f"p99_{name}_ms": pct(xs_ms, 99)}


async def run(args):
    u = urlparse(args.url)
    host, port = u.hostname, u.port or 80
    rng = random.Random(args.seed)
    sem = asyncio.Semaphore(args.concurrency)
    results = []

    async def one(i):
        path, body = make_body(args.api, args.model, args.input_len, args.output_len, rng)
        async with sem:
            results.append(await stream_request(host, port, path, body))

    t0 = time.perf_counter()
    tasks = []
    for i in range(args.num_requests):
        tasks.append(asyncio.create_task(one(i)))
        if args.request_rate and args.request_rate != float("inf"):
            await asyncio.sleep(rng.expovariate(args.request_rate))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0

    ok = [r for r in results if r.status == 200 and not r.error]
    ttft, tpot, itl, e2e, out_tokens = [], [], [], [], 0
    for r in ok:
        _, n = stream_text(r, args.api)
        out_tokens += n
        text_times = r.event_times[:-2] if len(r.event_times) > 2 else r.event_times  # drop usage + [DONE]
        if not text_times:
            continue
        ttft.append((text_times[0] - r.start) * 1e3)
        e2e.append((r.end - r.start) * 1e3)
        if n > 1:
            tpot.append((r.end - text_times[0]) * 1e3 / (n - 1))
        itl += [(b - a) * 1e3 for a, b in zip(text_times, text_times[1:])]
    report = {"num_requests": args.num_requests, "successful": len(ok), "failed": len(results) - len(ok),
              "concurrency": args.concurrency, "duration_s": wall, "request_throughput": len(ok) / wall,
              "output_tokens": out_tokens, "output_throughput": out_tokens / wall}
    for name, xs in (("ttft", ttft), ("tpot", tpot), ("itl", itl), ("e2e", e2e)):
        report.update(summarize(name, xs))
    errors = sorted({r.error or f"HTTP {r.status}" for r in results if r not in ok})
    if errors:
        report["errors"] = errors[:5]
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8088")
    p.add_argument("--api", choices=["completions", "chat"], default="completions")
    p.add_argument("--model", default="", help="model name to send (default: none, the server's)")
    p.add_argument("--num-requests", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--request-rate", type=float, default=float("inf"), help="requests/s (Poisson); inf: all at once")
    p.add_argument("--input-len", type=int, default=32, help="prompt length in words")
    p.add_argument("--output-len", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:24s} {v:.2f}" if isinstance(v, float) else f"{k:24s} {v}")
    return 0 if report["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
