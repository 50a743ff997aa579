"""What load-testing clients and dashboards expect of `kite serve` beyond chat/completions: the
Responses API (plain and streamed, through the official `openai` package, every body and event
validated against OpenAI's OpenAPI schemas), stream_options.continuous_usage_stats, no empty text
deltas, 499 for a client that hangs up mid-request, and vLLM's metric names. Expected text comes
from shared/models/stories260K (transformers' greedy ids)."""
import json
import os
import re
import socket
import time

import openai
import pytest
from tokenizers import Tokenizer

from server_helpers import MODEL_DIR, KiteServer, check_schema, http, post_json, reference, sse_events

REF = reference()
CASE0 = REF["cases"][0]
HF_TOK = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
BOS = 1  # <s> of stories260K: decodes to no text when special tokens are skipped


def ref_text(case, n):
    prompt = HF_TOK.decode(case["prompt_ids"], skip_special_tokens=True)
    full = HF_TOK.decode(case["prompt_ids"] + case["greedy_ids"][:n], skip_special_tokens=True)
    return full[len(prompt):]


@pytest.fixture(scope="module")
def server():
    s = KiteServer(log_name="coverage")
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0, timeout=60)


def responses_events(raw):
    """(event name, payload) pairs of a Responses stream: `event:` + `data:` blocks, no [DONE]."""
    out = []
    for block in [b for b in raw.decode().split("\n\n") if b.strip()]:
        m = re.fullmatch(r"event: ([a-z_.]+)\ndata: (.*)", block, re.S)
        assert m, f"not an event block: {block[:200]!r}"
        out.append((m.group(1), json.loads(m.group(2))))
    return out


def test_responses_text(server, client):
    r = client.responses.create(model="stories260K", input=CASE0["prompt"], max_output_tokens=30, temperature=0)
    assert r.output_text == ref_text(CASE0, 30)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert r.usage.input_tokens == len(CASE0["prompt_ids"]) and r.usage.output_tokens == 30
    status, body = post_json(server.base + "/v1/responses",
                             {"model": "stories260K", "input": CASE0["prompt"], "max_output_tokens": 8})
    assert status == 200, body
    check_schema("Response", body)
    assert body["object"] == "response" and body["output"][0]["content"][0]["type"] == "output_text"
    # A message list with content parts is the same conversation.
    items = [{"role": "user", "content": [{"type": "input_text", "text": CASE0["prompt"]}]}]
    r2 = client.responses.create(model="stories260K", input=items, max_output_tokens=30, temperature=0)
    assert r2.output_text == r.output_text


def test_responses_instructions_are_a_system_message(server, client):
    r = client.responses.create(model="stories260K", instructions="Be brief.", input="The dog",
                                max_output_tokens=20, temperature=0)
    assert r.instructions == "Be brief."
    chat = client.chat.completions.create(model="stories260K", max_tokens=20, temperature=0,
                                          messages=[{"role": "system", "content": "Be brief."},
                                                    {"role": "user", "content": "The dog"}])
    assert r.output_text == chat.choices[0].message.content
    assert r.usage.input_tokens == chat.usage.prompt_tokens


def test_responses_stream(server, client):
    body = {"model": "stories260K", "input": CASE0["prompt"], "max_output_tokens": 30, "temperature": 0, "stream": True}
    status, headers, raw = http("POST", server.base + "/v1/responses", body)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = responses_events(raw)
    names = [n for n, _ in events]
    for n, e in events:
        assert e["type"] == n
        check_schema("ResponseStreamEvent", e)
    assert [e["sequence_number"] for _, e in events] == list(range(len(events)))
    assert names[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert names[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.incomplete"]
    deltas = [e["delta"] for n, e in events if n == "response.output_text.delta"]
    assert all(deltas) and "".join(deltas) == ref_text(CASE0, 30)
    assert events[-4][1]["text"] == ref_text(CASE0, 30)
    # The SDK reads the same stream.
    events = list(client.responses.create(model="stories260K", input="The dog", max_output_tokens=50, temperature=0,
                                          stream=True))
    text = "".join(ev.delta for ev in events if ev.type == "response.output_text.delta")
    assert events[-1].type == "response.incomplete" and events[-1].response.output_text == text
    plain = client.responses.create(model="stories260K", input="The dog", max_output_tokens=50, temperature=0)
    assert plain.output_text == text


@pytest.mark.parametrize("body,field", [
    ({"model": "stories260K"}, "input"),
    ({"input": "hi", "previous_response_id": "resp_1"}, "previous_response_id"),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}, "input[0].content[0].type"),
    ({"input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"input": 5}, "input"),
])
def test_responses_errors(server, body, field):
    status, out = post_json(server.base + "/v1/responses", body)
    assert status == 400, out
    check_schema("ErrorResponse", out)
    assert out["error"]["message"].startswith(field + ":"), out


def test_continuous_usage_stats(server):
    body = {"model": "stories260K", "messages": [{"role": "user", "content": CASE0["prompt"]}], "max_tokens": 12,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True, "continuous_usage_stats": True}}
    status, _, raw = http("POST", server.base + "/v1/chat/completions", body)
    chunks = sse_events(raw)
    for c in chunks:
        check_schema("CreateChatCompletionStreamResponse", c)
        u = c["usage"]
        assert u["prompt_tokens"] == len(CASE0["prompt_ids"])
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    counts = [c["usage"]["completion_tokens"] for c in chunks]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 12
    # Each content chunk counts the tokens whose text it carries.
    text = ""
    for c in chunks:
        if c["choices"] and c["choices"][0]["delta"].get("content"):
            text += c["choices"][0]["delta"]["content"]
            assert c["usage"]["completion_tokens"] >= 1
    assert text == ref_text(CASE0, 12)
    # Without it, only the last chunk has usage.
    body["stream_options"] = {"include_usage": True}
    chunks = sse_events(http("POST", server.base + "/v1/chat/completions", body)[2])
    assert [("usage" in c and c["usage"] is not None) for c in chunks] == [False] * (len(chunks) - 1) + [True]


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions"])
def test_no_empty_text_deltas(server, path):
    # Every token is <s>, which decodes to no text: the stream holds them back and only the final
    # chunk comes, carrying the logprobs of all five tokens.
    body = {"model": "stories260K", "max_tokens": 5, "logit_bias": {str(BOS): 100}, "stream": True,
            "stream_options": {"include_usage": True}}
    if path == "/v1/completions":
        body.update(prompt=CASE0["prompt"], logprobs=0)
    else:
        body.update(messages=[{"role": "user", "content": CASE0["prompt"]}], logprobs=True)
    chunks = sse_events(http("POST", server.base + path, body)[2])
    with_choices = [c for c in chunks if c["choices"]]
    if path == "/v1/chat/completions":
        assert with_choices[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}  # OpenAI's opening chunk
        with_choices = with_choices[1:]
    assert len(with_choices) == 1, with_choices
    choice = with_choices[0]["choices"][0]
    assert choice["finish_reason"] == "length"
    if path == "/v1/completions":
        assert choice["text"] == "" and choice["logprobs"]["tokens"] == ["<s>"] * 5
    else:
        assert "content" not in choice["delta"] and len(choice["logprobs"]["content"]) == 5
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def wait_for(pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_client_gone_mid_request_is_499(server):
    before = server.metrics().get('kite:http_requests_total{status="499"}', 0)
    # Headers and part of the body, then the client hangs up.
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"prompt\": \"Once")
    assert wait_for(lambda: server.metrics().get('kite:http_requests_total{status="499"}', 0) == before + 1)
    assert re.search(r"POST /v1/completions\" 499", server.log_text()), server.log_text()[-2000:]
    assert "400" not in "".join(l for l in server.log_text().splitlines() if "/v1/completions" in l and " 400" in l)


def test_client_gone_while_streaming_is_499(server):
    before = server.metrics().get('kite:http_requests_total{status="499"}', 0)
    body = json.dumps({"prompt": "Once", "max_tokens": 400, "ignore_eos": True, "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert s.recv(100).startswith(b"HTTP/1.1 200")  # the stream has started; now hang up
    # The request ends as 499 once the server notices (on its next write at the latest).
    assert wait_for(lambda: server.metrics().get('kite:http_requests_total{status="499"}', 0) == before + 1)
    lines = [l for l in server.log_text().splitlines() if "POST /v1/completions" in l and " 499 " in l]
    assert len(lines) >= 2, server.log_text()[-2000:]


def test_vllm_metric_names(server, client):
    client.completions.create(model="stories260K", prompt="Once", max_tokens=4)
    m = server.metrics()
    label = '{model_name="stories260K"}'
    pairs = [("kite:prompt_tokens_total", "vllm:prompt_tokens_total"),
             ("kite:generation_tokens_total", "vllm:generation_tokens_total"),
             ("kite:num_requests_running", "vllm:num_requests_running"),
             ("kite:num_requests_waiting", "vllm:num_requests_waiting"),
             ("kite:kv_cache_usage_perc", "vllm:kv_cache_usage_perc"),
             ("kite:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
             ("kite:prefix_cache_queries_total", "vllm:prefix_cache_queries_total"),
             ("kite:prefix_cache_hits_total", "vllm:prefix_cache_hits_total"),
             ("kite:num_preemptions_total", "vllm:num_preemptions_total"),
             ("kite:time_to_first_token_seconds_count", "vllm:time_to_first_token_seconds_count"),
             ("kite:inter_token_latency_seconds_count", "vllm:time_per_output_token_seconds_count"),
             ("kite:e2e_request_latency_seconds_count", "vllm:e2e_request_latency_seconds_count")]
    for kite_name, vllm_name in pairs:
        assert vllm_name + label in m, vllm_name
        assert m[vllm_name + label] == m[kite_name], (kite_name, vllm_name)
    assert m["vllm:prompt_tokens_total" + label] >= 1
    assert m['vllm:request_success_total{model_name="stories260K",finished_reason="length"}'] == \
        m['kite:request_success_total{finished_reason="length"}']
    assert m['vllm:e2e_request_latency_seconds_bucket{model_name="stories260K",le="+Inf"}'] == \
        m["kite:e2e_request_latency_seconds_count"]
