"""A matrix of malformed bodies, parameters and routes against `kite serve` on stories260K: each gets
its documented 4xx in OpenAI's error shape (validated against ErrorResponse) while good requests
running at the same time keep succeeding; plus 401 (--api-key), 413, 429 (--concurrency-limit) and
malformed HTTP. The server must survive all of it."""
import concurrent.futures
import json
import os
import socket

import openai
import pytest
from tokenizers import Tokenizer

from server_helpers import MODEL_DIR, KiteServer, check_schema, http, post_json, reference

CASE0 = reference()["cases"][0]
HF_TOK = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
GOOD_TEXT = HF_TOK.decode(CASE0["prompt_ids"] + CASE0["greedy_ids"][:24], skip_special_tokens=True)[
    len(HF_TOK.decode(CASE0["prompt_ids"], skip_special_tokens=True)):]

C, CH = "/v1/completions", "/v1/chat/completions"
MSG = [{"role": "user", "content": "hi"}]

# (path, body, expected status): body is raw bytes or a JSON-able value.
MATRIX = [
    (C, b"{", 400), (C, b"", 400), (C, b"[1, 2]", 400), (C, b'"text"', 400), (C, b"null", 400),
    (C, b'{"prompt": "x",}', 400), (C, b"\xff\xfe", 400),
    (C, {}, 400), (C, {"prompt": 5}, 400), (C, {"prompt": {}}, 400), (C, {"prompt": [1.5]}, 400),
    (C, {"prompt": [[]]}, 400), (C, {"prompt": []}, 400), (C, {"prompt": [True]}, 400),
    (C, {"prompt": "x", "max_tokens": "5"}, 400), (C, {"prompt": "x", "max_tokens": 1.5}, 400),
    (C, {"prompt": "x", "max_tokens": -1}, 400), (C, {"prompt": "x", "max_tokens": 0}, 400),
    (C, {"prompt": "x", "max_tokens": 10**30}, 400),
    (C, {"prompt": "x", "temperature": "hot"}, 400), (C, {"prompt": "x", "temperature": -1}, 400),
    (C, {"prompt": "x", "temperature": 2.5}, 400), (C, {"prompt": "x", "top_p": 0}, 400),
    (C, {"prompt": "x", "top_p": 1.5}, 400), (C, {"prompt": "x", "n": 0}, 400), (C, {"prompt": "x", "n": 1000}, 400),
    (C, {"prompt": "x", "stop": 5}, 400), (C, {"prompt": "x", "stop": [1]}, 400), (C, {"prompt": "x", "stop": [""]}, 400),
    (C, {"prompt": "x", "stop": ["a"] * 17}, 400),
    (C, {"prompt": "x", "seed": "x"}, 400), (C, {"prompt": "x", "logprobs": 50}, 400),
    (C, {"prompt": "x", "logprobs": True}, 400), (C, {"prompt": "x", "echo": "yes"}, 400),
    (C, {"prompt": "x", "presence_penalty": 5}, 400), (C, {"prompt": "x", "frequency_penalty": -3}, 400),
    (C, {"prompt": "x", "logit_bias": []}, 400), (C, {"prompt": "x", "logit_bias": {"abc": 1}}, 400),
    (C, {"prompt": "x", "logit_bias": {"99999": 1}}, 400), (C, {"prompt": "x", "logit_bias": {"5": 200}}, 400),
    (C, {"prompt": "x", "logit_bias": {"5": "x"}}, 400), (C, {"prompt": "x", "stream": "yes"}, 400),
    (C, {"prompt": "x", "stream_options": {"include_usage": True}}, 400),
    (C, {"prompt": "x", "stream": True, "stream_options": 5}, 400),
    (C, {"prompt": "x", "top_k": -2}, 400), (C, {"prompt": "x", "min_p": 2}, 400),
    (C, {"prompt": "x", "repetition_penalty": 0}, 400), (C, {"prompt": [512]}, 400), (C, {"prompt": [-1]}, 400),
    (C, {"prompt": [[1, 2], [1, 9999]]}, 400), (C, {"prompt": [5] * 600}, 400),
    (C, {"prompt": "x", "max_tokens": 600}, 400), (C, {"prompt": "x", "best_of": 3}, 400),
    (C, {"prompt": "x", "suffix": "end"}, 400), (C, {"prompt": "x", "user": 5}, 400),
    (C, {"prompt": "x", "model": 5}, 400), (C, {"prompt": "x", "model": "other"}, 404),
    (C, {"prompt": "x", "echo": True, "logprobs": 1}, 400), (C, {"prompt": ["x"] * 20, "n": 128}, 400), (C, {"prompt": "x", "min_tokens": 50, "max_tokens": 5}, 400),
    (CH, {}, 400), (CH, {"messages": "hi"}, 400), (CH, {"messages": []}, 400), (CH, {"messages": [5]}, 400),
    (CH, {"messages": [{"content": "x"}]}, 400), (CH, {"messages": [{"role": "wizard", "content": "x"}]}, 400),
    (CH, {"messages": [{"role": "user", "content": 5}]}, 400), (CH, {"messages": [{"role": "user"}]}, 400),
    (CH, {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, 400),
    (CH, {"messages": [{"role": "user", "content": [{"type": "text"}]}]}, 400),
    (CH, {"messages": [{"role": "user", "content": [5]}]}, 400),
    (CH, {"messages": MSG, "top_logprobs": 2}, 400), (CH, {"messages": MSG, "logprobs": True, "top_logprobs": 30}, 400),
    (CH, {"messages": MSG, "logprobs": "yes"}, 400), (CH, {"messages": MSG, "response_format": {"type": "yaml"}}, 400),
    (CH, {"messages": MSG, "tools": [{"type": "function", "function": {"parameters": {}}}]}, 400),
    (CH, {"messages": MSG, "max_completion_tokens": 0}, 400), (CH, {"messages": MSG, "model": "gpt-4"}, 404),
    (CH, {"messages": MSG, "chat_template_kwargs": 3}, 400),
    ("/", {"prompt": "x", "generate_config": {"temperature": -1}}, 400),
    ("/tokenize", {}, 400), ("/tokenize", {"prompt": 3}, 400), ("/detokenize", {"tokens": "abc"}, 400),
    ("/v1/nope", {}, 404), ("/v1/models", {}, 405),
]


@pytest.fixture(scope="module")
def server():
    s = KiteServer("--no-access-log", log_name="errors")
    yield s
    assert s.stop() == 0


def send(server, path, body):
    status, _, raw = http("POST", server.base + path, body if isinstance(body, bytes) else json.dumps(body))
    return status, raw


def good_request(server):
    status, out = post_json(server.base + C, {"prompt": CASE0["prompt"], "max_tokens": 24, "temperature": 0})
    return status == 200 and out["choices"][0]["text"] == GOOD_TEXT


def test_bad_input_matrix_with_concurrent_good_requests(server):
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        good = [pool.submit(good_request, server) for _ in range(24)]
        bad = [(path, b, expected, pool.submit(send, server, path, b)) for path, b, expected in MATRIX]
        for path, b, expected, fut in bad:
            status, raw = fut.result()
            assert status == expected, (path, b, status, raw[:300])
            err = json.loads(raw)
            check_schema("ErrorResponse", err)
            assert err["error"]["message"] and "\n" not in err["error"]["message"]
        assert all(f.result() for f in good)
    assert good_request(server)


def test_param_named_in_errors(server):
    status, out = post_json(server.base + C, {"prompt": "x", "top_p": 7})
    assert status == 400 and out["error"]["param"] == "top_p" and "top_p" in out["error"]["message"]
    status, out = post_json(server.base + C, {"prompt": [5] * 600})
    assert status == 400 and "maximum context length is 512" in out["error"]["message"]


def test_routes_and_methods(server):
    assert http("GET", server.base + "/nope")[0] == 404
    assert http("GET", server.base + C)[0] == 405
    assert http("DELETE", server.base + "/v1/models/stories260K")[0] == 405
    status, _, raw = http("GET", server.base + "/v1/models/other")
    assert status == 404
    check_schema("ErrorResponse", json.loads(raw))


def test_body_too_large(server):
    status, _, raw = http("POST", server.base + C, b'{"prompt": "' + b"a" * (9 << 20) + b'"}')
    assert status == 413
    check_schema("ErrorResponse", json.loads(raw))
    assert good_request(server)


def test_malformed_http(server):
    for junk in [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(junk)
            reply = s.recv(4096)
            assert reply.startswith(b"HTTP/1.1 400"), reply[:100]
    # A client that connects and hangs up at once, or sends half a request and leaves.
    for partial in [b"", b"POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pro"]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(partial)
    assert good_request(server)


def test_api_key():
    srv = KiteServer("--api-key", "sekret", "--no-access-log", log_name="auth")
    try:
        bad = openai.OpenAI(base_url=srv.base + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.completions.create(model="stories260K", prompt="x", max_tokens=2)
        status, _, raw = http("POST", srv.base + C, {"prompt": "x", "max_tokens": 2})
        assert status == 401
        check_schema("ErrorResponse", json.loads(raw))
        good = openai.OpenAI(base_url=srv.base + "/v1", api_key="sekret", max_retries=0)
        assert good.completions.create(model="stories260K", prompt="x", max_tokens=2).choices[0].text is not None
        assert http("GET", srv.base + "/health")[0] == 200
    finally:
        assert srv.stop() == 0


def test_concurrency_limit_429():
    srv = KiteServer("--concurrency-limit", "1", "--no-access-log", log_name="limit")
    try:
        # Hold the only slot with a long stream (128 samples x 480 tokens: seconds of work, where one
        # sample alone ends in ~50 ms on an idle machine), read its first event, then ask again.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
            body = json.dumps({"prompt": "Once", "max_tokens": 480, "n": 128, "stream": True,
                               "ignore_eos": True}).encode()
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            first = s.recv(4096)
            assert first.startswith(b"HTTP/1.1 200")
            status, _, raw = http("POST", srv.base + C, {"prompt": "x", "max_tokens": 2})
            assert status == 429
            check_schema("ErrorResponse", json.loads(raw))
            with pytest.raises(openai.RateLimitError):
                openai.OpenAI(base_url=srv.base + "/v1", api_key="x", max_retries=0).completions.create(
                    model="stories260K", prompt="x", max_tokens=2)
        # Once the slot is free again (the stream ends or its client left), requests succeed.
        for _ in range(200):
            status, _, _ = http("POST", srv.base + C, {"prompt": "x", "max_tokens": 2})
            if status == 200:
                break
            import time
            time.sleep(0.05)
        assert status == 200
    finally:
        assert srv.stop() == 0
