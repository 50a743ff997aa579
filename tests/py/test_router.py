"""`kite router` over two `kite serve` backends on stories260K: the official `openai` package and the
native API through the router (outputs equal transformers' greedy ids), heartbeats taking a killed
backend out and bringing it back, a draining backend receiving nothing new, retries before the first
byte, the /backends API and file, prefix-cache routing raising the prefix-cache hit ratio."""
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

import openai
import pytest

from server_helpers import KITE_BINARY, MODEL_DIR, KiteServer, check_schema, free_port, http, post_json, reference, sse_events

REF = reference()
CASE0 = REF["cases"][0]
INTERVAL_MS = 200
MISSES = 2


class KiteRouter:
    def __init__(self, *args, backends=(), log_name="router"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kite_{log_name}_{self.port}.log")
        cmd = [KITE_BINARY, "router", "--host", "127.0.0.1", "--port", str(self.port),
               "--health-interval-ms", str(INTERVAL_MS), "--health-misses", str(MISSES)]
        for b in backends:
            cmd += ["--backend", b]
        cmd += list(args)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.reachable(), 30, "router listening")

    def reachable(self):
        try:
            urllib.request.urlopen(self.base + "/metrics", timeout=2).read()
            return True
        except OSError:
            return False

    def backends(self):
        status, body = get_json(self.base + "/backends")
        assert status == 200, body
        return {b["url"]: b for b in body["backends"]}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()
        return self.proc.returncode


def get_json(url):
    status, _, raw = http("GET", url)
    return status, json.loads(raw)


def wait_for(cond, timeout, what):
    """Polls `cond` until true; returns the seconds it took (the cap only stops a hung test)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return time.time() - t0
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def backend_server(log_name="rb"):
    return KiteServer(log_name=log_name)


def _server_on(port, log_name):
    # KiteServer picks a free port; a restarted backend must come back on its old one.
    orig = KiteServer.__init__.__globals__["free_port"]
    KiteServer.__init__.__globals__["free_port"] = lambda: port
    try:
        return KiteServer(log_name=log_name)
    finally:
        KiteServer.__init__.__globals__["free_port"] = orig


@pytest.fixture(scope="module")
def pair():
    a, b = backend_server(log_name="rba"), backend_server(log_name="rbb")
    yield [a, b]
    for s in (a, b):
        if s.proc.poll() is None:
            s.stop()


@pytest.fixture(scope="module")
def router(pair):
    r = KiteRouter(backends=[s.base for s in pair])
    wait_for(lambda: all(b["healthy"] for b in r.backends().values()), 30, "both backends healthy")
    yield r
    assert r.stop() == 0


def test_openai_sdk_through_router(router):
    client = openai.OpenAI(base_url=router.base + "/v1", api_key="unused", max_retries=0, timeout=60)
    direct = []
    for _ in range(4):  # round-robin: both backends serve, every answer is transformers' greedy text
        r = client.completions.create(model="stories260K", prompt=CASE0["prompt_ids"], max_tokens=16, temperature=0)
        direct.append(r.choices[0].text)
        assert r.usage.completion_tokens == 16
    assert len(set(direct)) == 1
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model="stories260K", prompt=CASE0["prompt_ids"], max_tokens=16, temperature=0, stream=True))
    assert streamed == direct[0]
    chat = client.chat.completions.create(model="stories260K", messages=[{"role": "user", "content": "Hi"}],
                                          max_tokens=8, temperature=0)
    check_schema("CreateChatCompletionResponse", chat.model_dump(exclude_unset=True))
    models = client.models.list()
    assert [m.id for m in models.data] == ["stories260K"]
    reqs = [b["requests"] for b in router.backends().values()]
    assert all(n >= 2 for n in reqs), reqs


def test_native_api_through_router(router, pair):
    body = {"prompt": CASE0["prompt"], "generate_config": {"max_new_tokens": 12, "top_k": 1}}
    s1, via_router = post_json(router.base + "/", body)
    s2, direct = post_json(pair[0].base + "/", body)
    assert s1 == 200 and s2 == 200
    assert via_router["response"] == direct["response"]
    status, _, raw = http("POST", router.base + "/", {**body, "yield_generator": True})
    assert status == 200
    events = sse_events(raw, native=True)
    assert events[-1]["response"] == direct["response"]


def test_errors_pass_through_in_openai_shape(router):
    status, body = post_json(router.base + "/v1/completions", {"model": "stories260K", "prompt": "x", "max_tokens": -1})
    assert status == 400 and "max_tokens" in body["error"]["message"]
    status, body = post_json(router.base + "/backends", {"nope": 1})
    assert status == 400 and "url" in body["error"]["message"]
    status, body = post_json(router.base + "/backends", {"url": "ftp://x"})
    assert status == 400 and "http://" in body["error"]["message"]
    status, _, raw = http("DELETE", router.base + "/backends/b999")
    assert status == 404 and "b999" in json.loads(raw)["error"]["message"]


def test_client_disconnect_cancels_backend_job(router, pair):
    req = urllib.request.Request(router.base + "/v1/completions", method="POST",
                                 data=json.dumps({"model": "stories260K", "prompt": "Once", "max_tokens": 500, "n": 16,
                                                  "ignore_eos": True, "stream": True}).encode(),
                                 headers={"Content-Type": "application/json"})
    resp = urllib.request.urlopen(req, timeout=30)
    resp.readline()
    resp.close()  # the client leaves mid-stream

    def idle():
        return all(get_json(s.base + "/worker_status")[1].get("running_requests", 1) == 0 for s in pair)
    wait_for(idle, 30, "backends to drop the abandoned request")
    # The backend saw its client (the router) leave: it logged 499 and aborted the sequences.
    wait_for(lambda: any(" 499 " in s.log_text() for s in pair), 10, "a 499 in a backend's access log")


def test_killed_backend_taken_out_then_back():
    a, b = backend_server(log_name="rka"), backend_server(log_name="rkb")
    r = KiteRouter(backends=[a.base, b.base], log_name="rk")
    try:
        wait_for(lambda: all(x["healthy"] for x in r.backends().values()), 30, "both healthy")
        port_b = b.port
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        # Requests right after the kill: the router retries the dead backend's share on the live one.
        for _ in range(6):
            status, body = post_json(r.base + "/v1/completions", {"model": "stories260K", "prompt": "Once",
                                                                   "max_tokens": 4, "temperature": 0})
            assert status == 200, body
        took = wait_for(lambda: not r.backends()[b.base]["healthy"], 30, "killed backend taken out")
        print(f"killed backend out of rotation after {took:.2f} s (interval {INTERVAL_MS} ms x {MISSES} misses)")
        b2 = _server_on(port_b, "rkb2")
        try:
            took = wait_for(lambda: r.backends()[b.base]["healthy"], 30, "restarted backend back in rotation")
            print(f"restarted backend back after {took:.2f} s")
        finally:
            b2.stop()
    finally:
        r.stop()
        a.stop()


def test_draining_backend_gets_no_new_requests():
    a, b = backend_server(log_name="rda"), backend_server(log_name="rdb")
    r = KiteRouter(backends=[a.base, b.base], log_name="rd")
    try:
        wait_for(lambda: all(x["healthy"] for x in r.backends().values()), 30, "both healthy")
        # A long request on b keeps it draining after SIGTERM.
        long_body = {"model": "stories260K", "prompt": "Once", "max_tokens": 500, "n": 32,
                     "ignore_eos": True, "temperature": 0}
        done = {}
        t = threading.Thread(target=lambda: done.update(r=post_json(b.base + "/v1/completions", long_body)))
        t.start()
        wait_for(lambda: get_json(b.base + "/worker_status")[1].get("running_requests", 0) > 0, 30, "long request running")
        b.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: not r.backends()[b.base]["healthy"], 30, "draining backend out of rotation")
        before = r.backends()[b.base]["requests"]
        for _ in range(4):
            status, body = post_json(r.base + "/v1/completions", {"model": "stories260K", "prompt": "Once",
                                                                   "max_tokens": 4, "temperature": 0})
            assert status == 200, body
        assert r.backends()[b.base]["requests"] == before
        t.join(timeout=120)
        assert done["r"][0] == 200
        assert b.proc.wait(timeout=60) == 0
    finally:
        r.stop()
        a.stop()


def test_backends_api_file_and_no_backend(tmp_path):
    a = backend_server(log_name="rfa")
    listing = tmp_path / "backends.txt"
    listing.write_text("# none yet\n")
    r = KiteRouter("--backends-file", str(listing), log_name="rf")
    try:
        status, body = post_json(r.base + "/v1/completions", {"model": "stories260K", "prompt": "x", "max_tokens": 2})
        assert status == 503 and "no backend" in body["error"]["message"]
        assert http("GET", r.base + "/health")[0] == 503
        listing.write_text(f"# one backend\n{a.base}\n")
        wait_for(lambda: a.base in r.backends() and r.backends()[a.base]["healthy"], 30, "file backend added")
        status, body = post_json(r.base + "/v1/completions", {"model": "stories260K", "prompt": "x", "max_tokens": 2})
        assert status == 200, body
        listing.write_text("\n")
        wait_for(lambda: a.base not in r.backends(), 30, "file backend removed")
        status, body = post_json(r.base + "/backends", {"url": a.base})
        assert status == 201, body
        assert r.backends()[a.base]["healthy"]
        status, _, _ = http("DELETE", r.base + "/backends/" + body["id"])
        assert status == 200 and a.base not in r.backends()
    finally:
        r.stop()
        a.stop()


def cached_ratio(router_base, prompts, repeats):
    cached = total = 0
    for _ in range(repeats):
        for p in prompts:
            status, body = post_json(router_base + "/v1/completions", {"model": "stories260K", "prompt": p,
                                                                       "max_tokens": 2, "temperature": 0})
            assert status == 200, body
            cached += body["usage"]["prompt_tokens_details"]["cached_tokens"]
            total += body["usage"]["prompt_tokens"]
    return cached / total


def test_prefix_cache_routing_raises_hit_ratio():
    # 5 long "system prompts", each sent 4 times in turn. Round-robin over 2 backends sends the
    # repeats of one prompt to both, so each backend computes it once: 2 of 4 repeats can hit.
    # Prefix-cache routing keeps each prompt on one backend: 3 of 4 hit.
    prompts = [f"System prompt number {i}: " + " ".join(["Once upon a time there was a little girl"] * 6)
               for i in range(5)]
    ratios = {}
    for policy in ("round-robin", "prefix-cache"):
        a, b = backend_server(log_name="rpa"), backend_server(log_name="rpb")
        r = KiteRouter("--policy", policy, backends=[a.base, b.base], log_name="rp")
        try:
            wait_for(lambda: all(x["healthy"] for x in r.backends().values()), 30, "both healthy")
            ratios[policy] = cached_ratio(r.base, prompts, 4)
        finally:
            r.stop()
            a.stop()
            b.stop()
    print("cached-token ratios:", ratios)
    # Expected about 3/4 against 2/4 of the full-block share of the prompt.
    assert ratios["prefix-cache"] > ratios["round-robin"] + 0.1, ratios


def test_router_tokenizes_for_backends(pair):
    # Frontend/backend split: the router encodes text prompts (as the backend would: special tokens
    # added) and sends token ids; the answers are the same as the backend's own.
    r = KiteRouter("--tokenizer", MODEL_DIR, backends=[s.base for s in pair], log_name="rt")
    try:
        wait_for(lambda: all(x["healthy"] for x in r.backends().values()), 30, "both healthy")
        body = {"model": "stories260K", "prompt": CASE0["prompt"], "max_tokens": 12, "temperature": 0}
        s1, via = post_json(r.base + "/v1/completions", body)
        s2, direct = post_json(pair[0].base + "/v1/completions", body)
        assert s1 == 200 and s2 == 200
        assert via["choices"][0]["text"] == direct["choices"][0]["text"]
        assert via["usage"]["prompt_tokens"] == len(CASE0["prompt_ids"])
        batch = dict(body, prompt=[CASE0["prompt"], "Once upon a time"], max_tokens=4)
        s1, via = post_json(r.base + "/v1/completions", batch)
        s2, direct = post_json(pair[0].base + "/v1/completions", batch)
        assert s1 == 200 and [c["text"] for c in via["choices"]] == [c["text"] for c in direct["choices"]]
        native = {"prompt": CASE0["prompt"], "generate_config": {"max_new_tokens": 8, "top_k": 1}}
        s1, via = post_json(r.base + "/", native)  # the native API takes text only: forwarded as is
        s2, direct = post_json(pair[0].base + "/", native)
        assert s1 == 200 and via["response"] == direct["response"]
        # echo must show the client's own text: sent as is.
        s1, via = post_json(r.base + "/v1/completions", dict(body, echo=True, max_tokens=2))
        assert s1 == 200 and via["choices"][0]["text"].startswith(CASE0["prompt"])
        status, _, raw = http("GET", r.base + "/metrics")
        assert "kite_router_pretokenized_total 2" in raw.decode()
    finally:
        r.stop()


def test_router_renders_chat_for_backends():
    # Chat through the split: the router renders the model's template and tokenizes; the backend
    # gets a completion of token ids; the client gets chat.completion answers equal to the backend's
    # own chat path (same text, same prompt token count), whole and streamed.
    from server_helpers import SOURCE_DIR
    gguf = os.path.join(SOURCE_DIR, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    b = KiteServer("--served-model-name", "smol", model=gguf, log_name="rcb")
    r = KiteRouter("--tokenizer", gguf, backends=[b.base], log_name="rc")
    try:
        wait_for(lambda: all(x["healthy"] for x in r.backends().values()), 30, "backend healthy")
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}]
        via = openai.OpenAI(base_url=r.base + "/v1", api_key="x", max_retries=0)
        direct = openai.OpenAI(base_url=b.base + "/v1", api_key="x", max_retries=0)
        a = via.chat.completions.create(model="smol", messages=msgs, max_tokens=12, temperature=0)
        d = direct.chat.completions.create(model="smol", messages=msgs, max_tokens=12, temperature=0)
        check_schema("CreateChatCompletionResponse", a.model_dump(exclude_unset=True))
        assert a.choices[0].message.content == d.choices[0].message.content
        assert a.usage.prompt_tokens == d.usage.prompt_tokens
        assert a.choices[0].finish_reason == d.choices[0].finish_reason
        chunks = list(via.chat.completions.create(model="smol", messages=msgs, max_tokens=12, temperature=0,
                                                  stream=True, stream_options={"include_usage": True}))
        for c in chunks:
            check_schema("CreateChatCompletionStreamResponse", c.model_dump(exclude_unset=True))
        assert chunks[0].choices[0].delta.role == "assistant"
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == d.choices[0].message.content
        assert chunks[-1].usage.prompt_tokens == d.usage.prompt_tokens
        status, _, raw = http("GET", r.base + "/metrics")
        assert "kite_router_pretokenized_total 2" in raw.decode()
        # Without max_tokens a chat runs to the end of the context: forwarded as sent, not split.
        via.chat.completions.create(model="smol", messages=msgs, temperature=0, stop=["."])
        status, _, raw = http("GET", r.base + "/metrics")
        assert "kite_router_pretokenized_total 2" in raw.decode()
    finally:
        r.stop()
        b.stop()


def test_router_renders_chat_with_the_backends_template():
    from server_helpers import CHATML
    b = KiteServer("--chat-template", CHATML, log_name="rtb")
    r = KiteRouter("--tokenizer", MODEL_DIR, "--chat-template", CHATML, backends=[b.base], log_name="rtt")
    try:
        wait_for(lambda: all(x["healthy"] for x in r.backends().values()), 30, "backend healthy")
        body = {"model": "stories260K", "max_tokens": 10, "temperature": 0,
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell a story."}]}
        s1, via = post_json(r.base + "/v1/chat/completions", body)
        s2, direct = post_json(b.base + "/v1/chat/completions", body)
        assert s1 == 200 and s2 == 200
        assert via["choices"][0]["message"] == direct["choices"][0]["message"]
        assert via["usage"]["prompt_tokens"] == direct["usage"]["prompt_tokens"]
        assert "kite_router_pretokenized_total 1" in http("GET", r.base + "/metrics")[2].decode()
    finally:
        r.stop()
        b.stop()
