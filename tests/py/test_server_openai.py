"""`kite serve` through the official `openai` package on stories260K: completions, chat, streaming
with usage, n=2, stop, logprobs, seeds, typed errors. Every body is validated against OpenAI's
OpenAPI schemas; expected text and logprobs come from shared/models/stories260K (transformers)."""
import json
import math
import os

import jinja2
import numpy as np
import openai
import pytest
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from server_helpers import CHATML, MODEL_DIR, KiteServer, check_schema, http, post_json, reference, sse_events

REF = reference()
CASE0 = REF["cases"][0]
HF_TOK = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))


def ref_text(case, n):
    """What the server must return for n greedy tokens: transformers' ids as a continuation of the prompt
    (decoded after the prompt, so a leading space that the decoder strips at the start of a text stays)."""
    prompt = HF_TOK.decode(case["prompt_ids"], skip_special_tokens=True)
    full = HF_TOK.decode(case["prompt_ids"] + case["greedy_ids"][:n], skip_special_tokens=True)
    assert full.startswith(prompt)
    return full[len(prompt):]


@pytest.fixture(scope="module")
def server():
    s = KiteServer(log_name="openai")
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0, timeout=60)


def raw_post(server, path, body):
    status, out = post_json(server.base + path, body)
    assert status == 200, out
    return out


def test_models(server, client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["stories260K"]
    status, _, raw = http("GET", server.base + "/v1/models")
    check_schema("ListModelsResponse", json.loads(raw))
    status, _, raw = http("GET", server.base + "/v1/models/stories260K")
    assert status == 200
    check_schema("Model", json.loads(raw))
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_completion_greedy_matches_transformers(server, client):
    r = client.completions.create(model="stories260K", prompt=CASE0["prompt"], max_tokens=40, temperature=0)
    assert r.choices[0].text == ref_text(CASE0, 40)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens == len(CASE0["prompt_ids"]) and r.usage.completion_tokens == 40
    body = raw_post(server, "/v1/completions", {"model": "stories260K", "prompt": CASE0["prompt"], "max_tokens": 8,
                                                "temperature": 0})
    check_schema("CreateCompletionResponse", body)


def test_completion_prompt_forms(server, client):
    case1 = REF["cases"][1]
    ids = CASE0["prompt_ids"]
    r = client.completions.create(model="stories260K", prompt=ids, max_tokens=10, temperature=0)
    assert r.choices[0].text == ref_text(CASE0, 10)
    r = client.completions.create(model="stories260K", prompt=[CASE0["prompt"], case1["prompt"]], max_tokens=10,
                                  temperature=0)
    assert [c.index for c in r.choices] == [0, 1]
    assert [c.text for c in r.choices] == [ref_text(CASE0, 10), ref_text(case1, 10)]
    assert r.usage.prompt_tokens == len(ids) + len(case1["prompt_ids"])
    r = client.completions.create(model="stories260K", prompt=[ids, case1["prompt_ids"]], max_tokens=10, temperature=0)
    assert [c.text for c in r.choices] == [ref_text(CASE0, 10), ref_text(case1, 10)]
    r = client.completions.create(model="stories260K", prompt=CASE0["prompt"], max_tokens=5, temperature=0, echo=True)
    assert r.choices[0].text == CASE0["prompt"] + ref_text(CASE0, 5)


def completion_chunks_valid(chunks):
    """The spec has no stream schema for completions: a chunk is a CreateCompletionResponse, except that
    chunks before the last of a choice carry finish_reason null (as OpenAI's own stream does)."""
    for c in chunks:
        copy = json.loads(json.dumps(c))
        for ch in copy["choices"]:
            if ch["finish_reason"] is None:
                ch["finish_reason"] = "length"
        check_schema("CreateCompletionResponse", copy)


@pytest.mark.parametrize("stop", [None, ["Lily"]])
def test_completion_stream_equals_nonstream(server, client, stop):
    args = dict(model="stories260K", prompt=CASE0["prompt"], max_tokens=48, temperature=0, stop=stop)
    full = client.completions.create(**args)
    chunks = list(client.completions.create(stream=True, stream_options={"include_usage": True}, **args))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == full.choices[0].text
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason is not None]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == full.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    if stop:
        assert full.choices[0].finish_reason == "stop"
        assert full.choices[0].text == ref_text(CASE0, 48).split("Lily")[0]
    status, _, raw = http("POST", server.base + "/v1/completions",
                          dict(args, stream=True, stream_options={"include_usage": True}))
    completion_chunks_valid(sse_events(raw))


def test_chat_uses_model_template(server, client):
    msgs = [{"role": "user", "content": CASE0["prompt"]}]
    r = client.chat.completions.create(model="stories260K", messages=msgs, max_tokens=30, temperature=0)
    # The model's template renders "<s>Once upon a time": case 0 exactly.
    assert r.choices[0].message.content == ref_text(CASE0, 30)
    assert r.choices[0].message.role == "assistant"
    assert r.usage.prompt_tokens == len(CASE0["prompt_ids"])
    body = raw_post(server, "/v1/chat/completions", {"model": "stories260K", "messages": msgs, "max_tokens": 8})
    check_schema("CreateChatCompletionResponse", body)
    # Content parts are joined text.
    parts = [{"role": "user", "content": [{"type": "text", "text": CASE0["prompt"]}]}]
    r2 = client.chat.completions.create(model="stories260K", messages=parts, max_tokens=30, temperature=0)
    assert r2.choices[0].message.content == r.choices[0].message.content


def test_chat_stream(server, client):
    args = dict(model="stories260K", messages=[{"role": "user", "content": "The dog"}], max_completion_tokens=40,
                temperature=0, stop=["ball"])
    full = client.chat.completions.create(**args)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **args))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert text == ref_text(REF["cases"][2], 40).split("ball")[0]
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    status, headers, raw = http("POST", server.base + "/v1/chat/completions",
                                dict(args, stream=True, stream_options={"include_usage": True}))
    assert headers["Content-Type"].startswith("text/event-stream")
    for c in sse_events(raw):
        check_schema("CreateChatCompletionStreamResponse", c)


def test_n2(server, client):
    r = client.completions.create(model="stories260K", prompt="Lily", max_tokens=12, temperature=1.0, n=2, seed=7)
    assert sorted(c.index for c in r.choices) == [0, 1]
    assert r.usage.completion_tokens == 24
    c = client.chat.completions.create(model="stories260K", messages=[{"role": "user", "content": "Tom"}],
                                       max_tokens=12, n=2, seed=7)
    assert sorted(x.index for x in c.choices) == [0, 1]
    chunks = list(client.chat.completions.create(model="stories260K", messages=[{"role": "user", "content": "Tom"}],
                                                 max_tokens=12, n=2, seed=7, stream=True))
    for i in range(2):
        streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices and ch.choices[0].index == i)
        assert streamed == c.choices[i].message.content
        assert sum(1 for ch in chunks if ch.choices and ch.choices[0].index == i and ch.choices[0].finish_reason) == 1


def test_seeds(server, client):
    def run(seed):
        return client.completions.create(model="stories260K", prompt="Once", max_tokens=24, temperature=1.0,
                                         seed=seed).choices[0].text
    assert run(123) == run(123)
    assert len({run(s) for s in range(1, 6)}) > 1


def log_softmax(row):
    row = row.astype(np.float64)
    m = row.max()
    return row - m - math.log(np.exp(row - m).sum())


def test_logprobs_match_transformers(server, client):
    logits = load_file(os.path.join(MODEL_DIR, "logits.safetensors"))["case0.logits"]
    expected = log_softmax(logits[-1])
    first = CASE0["greedy_ids"][0]
    r = client.completions.create(model="stories260K", prompt=CASE0["prompt"], max_tokens=3, temperature=0, logprobs=3)
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == 3 and len(lp.token_logprobs) == 3 and len(lp.top_logprobs) == 3
    assert abs(lp.token_logprobs[0] - expected[first]) < 1e-3
    top3 = sorted(expected, reverse=True)[:3]
    assert sorted(lp.top_logprobs[0].values(), reverse=True) == pytest.approx(top3, abs=1e-3)
    assert lp.text_offset[0] == 0
    body = raw_post(server, "/v1/completions", {"prompt": CASE0["prompt"], "max_tokens": 3, "temperature": 0,
                                                "logprobs": 2})
    check_schema("CreateCompletionResponse", body)
    c = client.chat.completions.create(model="stories260K", messages=[{"role": "user", "content": CASE0["prompt"]}],
                                       max_tokens=3, temperature=0, logprobs=True, top_logprobs=2)
    content = c.choices[0].logprobs.content
    assert len(content) == 3 and abs(content[0].logprob - expected[first]) < 1e-3
    assert len(content[0].top_logprobs) == 2
    assert bytes(content[0].bytes).decode() == content[0].token
    body = raw_post(server, "/v1/chat/completions", {"messages": [{"role": "user", "content": "Tom"}], "max_tokens": 3,
                                                     "logprobs": True, "top_logprobs": 2})
    check_schema("CreateChatCompletionResponse", body)


def test_typed_errors(server, client):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="stories260K", prompt="x", temperature=3)
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="stories260K", prompt="x", max_tokens=600)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="stories260K", messages=[], max_tokens=3)
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4", prompt="x")
    status, body = post_json(server.base + "/v1/completions", {"prompt": "x", "n": 0})
    assert status == 400
    check_schema("ErrorResponse", body)


def test_chatml_template_file():
    """--chat-template replaces the model's template; the prompt is the independently rendered ChatML."""
    srv = KiteServer("--chat-template", CHATML, "--served-model-name", "tiny", log_name="chatml")
    try:
        client = openai.OpenAI(base_url=srv.base + "/v1", api_key="unused", max_retries=0)
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell a story."}]
        r = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=10, temperature=0)
        with open(CHATML) as f:
            rendered = jinja2.Template(f.read()).render(messages=msgs, add_generation_prompt=True)
        assert r.usage.prompt_tokens == len(HF_TOK.encode(rendered, add_special_tokens=False).ids)
        assert r.model == "tiny"
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="stories260K", messages=msgs, max_tokens=3)
    finally:
        assert srv.stop() == 0
