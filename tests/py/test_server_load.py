"""Concurrency and lifecycle of `kite serve` on stories260K: many concurrent streams give the same
greedy text as one alone; clients that vanish mid-stream leave no KV blocks behind (/metrics); a
SIGTERM lets the streams in flight finish and the process exits 0."""
import asyncio
import json
import os
import signal
import sys
import time
import urllib.request

import pytest

from server_helpers import SOURCE_DIR, KiteServer, reference

sys.path.insert(0, os.path.join(SOURCE_DIR, "bench"))
from serve_load import stream_request, stream_text  # noqa: E402  (bench/serve_load.py)

PROMPTS = [c["prompt"] for c in reference()["cases"]]


@pytest.fixture(scope="module")
def server():
    s = KiteServer("--no-access-log", log_name="load")
    yield s
    assert s.stop() == 0


def body(prompt, max_tokens, **kw):
    return dict({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                 "stream_options": {"include_usage": True}}, **kw)


def wait_for_idle(server, timeout=20):
    """Metrics once no request runs or waits and every KV block is free again (or the last seen)."""
    deadline = time.time() + timeout
    while True:
        m = server.metrics()
        idle = (m["kite:num_requests_running"] == 0 and m["kite:num_requests_waiting"] == 0 and
                m["kite:kv_cache_free_blocks"] == m["kite:kv_cache_total_blocks"])
        if idle or time.time() > deadline:
            return m
        time.sleep(0.05)


def test_200_concurrent_streams_match_alone(server):
    async def go():
        alone = {}
        for p in PROMPTS:
            r = await stream_request("127.0.0.1", server.port, "/v1/completions", body(p, 32))
            assert r.status == 200 and not r.error
            alone[p] = stream_text(r, "completions")
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(200)]
        results = await asyncio.gather(*[stream_request("127.0.0.1", server.port, "/v1/completions", body(p, 32))
                                         for p in prompts])
        for p, r in zip(prompts, results):
            assert r.status == 200 and not r.error, (r.status, r.error)
            assert r.events[-1] == "[DONE]"
            assert stream_text(r, "completions") == alone[p]
    asyncio.run(go())


def test_killed_clients_free_their_blocks(server):
    before = wait_for_idle(server)

    async def go():
        # 40 clients vanish after their second event; 8 well-behaved ones run beside them.
        killed = [stream_request("127.0.0.1", server.port, "/v1/completions", body(PROMPTS[i % 4], 400),
                                 abort_after_events=2) for i in range(40)]
        good = [stream_request("127.0.0.1", server.port, "/v1/completions", body(PROMPTS[i % 4], 16))
                for i in range(8)]
        results = await asyncio.gather(*killed, *good)
        for r in results[40:]:
            assert r.status == 200 and r.events[-1] == "[DONE]"
    asyncio.run(go())
    after = wait_for_idle(server)
    assert after["kite:kv_cache_free_blocks"] == after["kite:kv_cache_total_blocks"]
    assert after["kite:num_requests_running"] == 0 and after["kite:num_requests_waiting"] == 0
    # Each vanished client is counted as 499 (client closed request), never as a success.
    assert after.get('kite:http_requests_total{status="499"}', 0) - before.get(
        'kite:http_requests_total{status="499"}', 0) >= 1
    # The aborted requests generated far fewer than the 400 tokens they asked for.
    assert after["kite:generation_tokens_total"] - before["kite:generation_tokens_total"] < 40 * 400


def test_1000_concurrent_streaming_connections(server):
    async def go():
        results = await asyncio.gather(*[stream_request("127.0.0.1", server.port, "/v1/completions",
                                                        body(PROMPTS[i % 4], 4)) for i in range(1000)])
        bad = [(r.status, r.error) for r in results if r.status != 200 or r.error or r.events[-1] != "[DONE]"]
        assert not bad, bad[:5]
    asyncio.run(go())


def test_sigterm_drains_streams_in_flight():
    srv = KiteServer(log_name="drain")

    async def go():
        task = asyncio.create_task(stream_request("127.0.0.1", srv.port, "/v1/completions", body(PROMPTS[0], 300)))
        # Wait until the request is being generated, then ask the server to stop.
        for _ in range(400):
            with urllib.request.urlopen(srv.base + "/worker_status") as r:
                if json.loads(r.read())["running_query_len"] > 0:
                    break
            await asyncio.sleep(0.005)
        srv.proc.send_signal(signal.SIGTERM)
        return await task
    try:
        r = asyncio.run(go())
        assert r.status == 200 and not r.error, r.error
        assert r.events[-1] == "[DONE]"
        text, tokens = stream_text(r, "completions")
        assert tokens == 300
        assert srv.proc.wait(timeout=30) == 0
        assert "finishing 1 requests in flight" in srv.log_text()
    finally:
        srv.stop()


def test_client_that_never_reads_does_not_stall_the_engine(server):
    """8 x 400 tokens with 20 logprobs each is megabytes of events, more than the socket buffers hold:
    the server queues them for this connection while the engine finishes the request and other
    clients are served."""
    import socket as socketlib
    before = server.metrics()["kite:generation_tokens_total"]
    body_bytes = json.dumps({"messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 400,
                             "n": 8, "logprobs": True, "top_logprobs": 20, "stream": True,
                             "ignore_eos": True}).encode()
    with socketlib.create_connection(("127.0.0.1", server.port)) as s:
        s.setsockopt(socketlib.SOL_SOCKET, socketlib.SO_RCVBUF, 4096)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body_bytes)).encode() + b"\r\n\r\n" + body_bytes)
        # Without reading a byte: others are served, and the engine finishes all 3,200 tokens.
        async def other():
            return await stream_request("127.0.0.1", server.port, "/v1/completions", body(PROMPTS[1], 8))
        r = asyncio.run(other())
        assert r.status == 200 and r.events[-1] == "[DONE]"
        deadline = time.time() + 30
        while server.metrics()["kite:generation_tokens_total"] - before < 3200 + 8 and time.time() < deadline:
            time.sleep(0.05)
        assert server.metrics()["kite:generation_tokens_total"] - before >= 3200 + 8
