"""Structured output through `kite serve`: response_format (json_object, json_schema strict),
guided_json / guided_regex / guided_choice / guided_grammar (EBNF), the native API's equivalent and
tool_choice required / named, on stories260K and the default model (SmolLM2-135M-Instruct GGUF).
Every constrained output must parse and validate (python `jsonschema`, `re.fullmatch`), sampled as
well as greedy, and alone as well as batched with unconstrained requests, whose greedy text must
still equal transformers' reference."""
import concurrent.futures
import json
import os
import re

import jsonschema
import openai
import pytest

from server_helpers import MODEL_DIR, SOURCE_DIR, KiteServer, check_schema, http, post_json, reference, sse_events

DEFAULT_MODEL = os.path.join(SOURCE_DIR, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
REF = reference()

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "color": {"enum": ["red", "green", "blue"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
    },
    "required": ["name", "age", "color", "tags"],
    "additionalProperties": False,
}
POINT = {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "boolean"}},
         "required": ["x", "y"], "additionalProperties": False}


def models():
    out = ["stories260K"]
    if os.path.exists(DEFAULT_MODEL):
        out.append("default")
    return out


@pytest.fixture(scope="module", params=models())
def server(request):
    if request.param == "default":
        s = KiteServer(log_name="structured_default", model=DEFAULT_MODEL)
    else:
        s = KiteServer(log_name="structured")
    s.name = request.param
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0, timeout=120)


def served_model(server):
    status, _, raw = http("GET", server.base + "/v1/models")
    return json.loads(raw)["data"][0]["id"]


def chat(client, server, **kw):
    kw.setdefault("messages", [{"role": "user", "content": "Describe a person as JSON."}])
    kw.setdefault("max_tokens", 300)
    return client.chat.completions.create(model=served_model(server), **kw)


@pytest.mark.parametrize("temperature,seed", [(0, None), (1.0, 1), (1.0, 2), (1.5, 3)])
def test_json_schema_strict(server, client, temperature, seed):
    rf = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
    r = chat(client, server, response_format=rf, temperature=temperature, seed=seed)
    assert r.choices[0].finish_reason == "stop", r.choices[0].message.content
    jsonschema.validate(json.loads(r.choices[0].message.content), PERSON)


def test_json_object(server, client):
    r = chat(client, server, response_format={"type": "json_object"}, temperature=1.0, seed=7, max_tokens=400)
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(r.choices[0].message.content), dict)
    else:  # ran out of tokens inside the object: still a prefix of one
        assert r.choices[0].message.content.lstrip().startswith("{")


def test_guided_regex_choice_grammar(server):
    url = server.base + "/v1/completions"
    base = {"model": served_model(server), "prompt": "Once upon a time", "max_tokens": 40, "temperature": 1.0}
    for seed in range(3):
        _, out = post_json(url, dict(base, seed=seed, guided_regex=r"[0-9]{3}-[a-z]{2,4}"))
        assert re.fullmatch(r"[0-9]{3}-[a-z]{2,4}", out["choices"][0]["text"]), out
        _, out = post_json(url, dict(base, seed=seed, guided_choice=["yes", "no", "a (b) c?"]))
        assert out["choices"][0]["text"] in ["yes", "no", "a (b) c?"], out
        grammar = ('root ::= "The " animal " is " color ("!"){1,2}\n'
                   'animal ::= "cat" | "dog" | "small-bird"\n'
                   'color ::= "red" | "blue"  # a comment\n')
        _, out = post_json(url, dict(base, seed=seed, guided_grammar=grammar))
        assert re.fullmatch(r"The (cat|dog|small-bird) is (red|blue)!{1,2}", out["choices"][0]["text"]), out


def test_guided_json_native_api(server):
    body = {"prompt": "Once upon a time", "generate_config": {"max_new_tokens": 200, "guided_json": POINT,
                                                               "top_k": 0, "temperature": 1.0, "random_seed": 5}}
    status, out = post_json(server.base + "/", body)
    assert status == 200, out
    jsonschema.validate(json.loads(out["response"]), POINT)


def test_batched_with_unconstrained(server, client):
    """Constrained and unconstrained requests in flight together: each constrained one validates,
    each unconstrained greedy one is unchanged (equal to its output alone; on stories260K equal to
    transformers' reference)."""
    def constrained(seed):
        rf = {"type": "json_schema", "json_schema": {"name": "p", "schema": [PERSON, POINT][seed % 2], "strict": True}}
        r = chat(client, server, response_format=rf, temperature=1.0, seed=seed)
        return ("c", seed, r.choices[0].message.content, r.choices[0].finish_reason)

    def free(case):
        r = client.completions.create(model=served_model(server), prompt=case["prompt"], max_tokens=24, temperature=0)
        return ("u", case["prompt"], r.choices[0].text, None)

    cases = REF["cases"][:3]
    alone = {c["prompt"]: free(c)[2] for c in cases}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(constrained, s) for s in range(4)] + [pool.submit(free, c) for c in cases]
        results = [j.result() for j in jobs]
    for kind, key, text, finish in results:
        if kind == "c":
            assert finish == "stop", text
            jsonschema.validate(json.loads(text), [PERSON, POINT][key % 2])
        else:
            assert text == alone[key]
    if server.name == "stories260K":
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
        for c in cases:
            prompt = tok.decode(c["prompt_ids"], skip_special_tokens=True)
            full = tok.decode(c["prompt_ids"] + c["greedy_ids"][:24], skip_special_tokens=True)
            assert alone[c["prompt"]] == full[len(prompt):]


def test_stream_json_schema(server, client):
    rf = {"type": "json_schema", "json_schema": {"name": "point", "schema": POINT, "strict": True}}
    chunks = list(chat(client, server, response_format=rf, temperature=1.0, seed=11, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    jsonschema.validate(json.loads(text), POINT)


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                                                    "unit": {"enum": ["c", "f"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 10}},
                                       "required": ["zone"], "additionalProperties": False}}}


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_time"}}])
def test_tool_choice_constrained(server, client, choice):
    if choice == "required" and server.name == "stories260K":
        pytest.skip("stories260K never closes the list of calls within its 512-token context")
    msgs = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = chat(client, server, messages=msgs, tools=[WEATHER, TIME], tool_choice=choice, temperature=1.0, seed=3)
    c = r.choices[0]
    assert c.finish_reason == "tool_calls", c
    assert c.message.tool_calls, c.message
    by_name = {"get_weather": WEATHER, "get_time": TIME}
    for call in c.message.tool_calls:
        if isinstance(choice, dict):
            assert call.function.name == "get_time"
        jsonschema.validate(json.loads(call.function.arguments), by_name[call.function.name]["function"]["parameters"])
        assert call.id and call.type == "function"
    status, out = post_json(server.base + "/v1/chat/completions",
                            {"messages": msgs, "tools": [WEATHER, TIME], "tool_choice": choice, "max_tokens": 300})
    check_schema("CreateChatCompletionResponse", out)
    # Streamed: OpenAI's tool_calls deltas, reassembled.
    body = {"messages": msgs, "tools": [WEATHER, TIME], "tool_choice": choice, "max_tokens": 300, "stream": True,
            "temperature": 1.0, "seed": 3}
    chunks = sse_events(http("POST", server.base + "/v1/chat/completions", body)[2])
    for ch in chunks:
        check_schema("CreateChatCompletionStreamResponse", ch)
    calls = {}
    for ch in chunks:
        for tc in (ch["choices"][0]["delta"].get("tool_calls") or []) if ch["choices"] else []:
            entry = calls.setdefault(tc["index"], {"name": "", "arguments": ""})
            if "function" in tc and tc["function"].get("name"):
                entry["name"] = tc["function"]["name"]
                assert tc["id"] and tc["type"] == "function"
            entry["arguments"] += tc.get("function", {}).get("arguments", "")
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert [(v["name"], json.loads(v["arguments"])) for _, v in sorted(calls.items())] == \
        [(t.function.name, json.loads(t.function.arguments)) for t in c.message.tool_calls]


@pytest.mark.parametrize("body,field", [
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}}},
     "response_format.json_schema.schema"),
    ({"response_format": {"type": "xml"}}, "response_format.type"),
    ({"guided_regex": "([a-z"}, "guided_regex"),
    ({"guided_grammar": "root ::= (\"a\""}, "guided_grammar"),
    ({"guided_choice": []}, "guided_choice"),
    ({"guided_regex": "a", "guided_choice": ["b"]}, "guided_choice"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
])
def test_errors(server, body, field):
    full = dict({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}, **body)
    status, out = post_json(server.base + "/v1/chat/completions", full)
    assert status == 400, out
    check_schema("ErrorResponse", out)
    assert out["error"]["message"].startswith(field + ":"), out


@pytest.fixture(scope="module")
def tools_server():
    s = KiteServer("--chat-template", os.path.join(SOURCE_DIR, "tests", "data", "server_tools.jinja"), log_name="tools")
    yield s
    assert s.stop() == 0


def test_tools_reach_the_template(tools_server):
    url = tools_server.base + "/v1/chat/completions"
    msgs = [{"role": "user", "content": "What time is it?"}]
    usage = {}
    for name, extra in [("plain", {}), ("auto", {"tools": [WEATHER, TIME]}),
                        ("none", {"tools": [WEATHER, TIME], "tool_choice": "none"})]:
        status, out = post_json(url, dict({"messages": msgs, "max_tokens": 2}, **extra))
        assert status == 200, out
        usage[name] = out["usage"]["prompt_tokens"]
    # "Tools: get_weather get_time\n" is rendered only when the tools are offered.
    assert usage["auto"] > usage["plain"] == usage["none"]


@pytest.mark.parametrize("forced,content", [
    (r'<tool_call>\{"name": "get_time", "arguments": \{"zone": "UTC"\}\}</tool_call>', None),  # Hermes / Qwen
    (r'Sure\. <tool_call>\{"name": "get_time", "arguments": \{"zone": "UTC"\}\}</tool_call>', "Sure."),
    (r'\{"name": "get_time", "parameters": \{"zone": "UTC"\}\}', None),  # Llama 3
])
def test_tool_calls_parsed_from_output(tools_server, forced, content):
    """tool_choice auto: the output (forced here with guided_regex, as a model would write it) comes
    back as tool_calls, plain and streamed, through the openai SDK."""
    client = openai.OpenAI(base_url=tools_server.base + "/v1", api_key="unused", max_retries=0, timeout=60)
    args = dict(model="stories260K", messages=[{"role": "user", "content": "What time is it?"}], tools=[WEATHER, TIME],
                max_tokens=200, extra_body={"guided_regex": forced})
    r = client.chat.completions.create(**args)
    c = r.choices[0]
    assert c.finish_reason == "tool_calls"
    assert c.message.content == content
    assert [(t.function.name, json.loads(t.function.arguments)) for t in c.message.tool_calls] == [("get_time", {"zone": "UTC"})]
    chunks = list(client.chat.completions.create(stream=True, **args))
    calls = {}
    text = ""
    for ch in chunks:
        d = ch.choices[0].delta if ch.choices else None
        if d is None:
            continue
        text += d.content or ""
        for tc in d.tool_calls or []:
            e = calls.setdefault(tc.index, {"name": None, "arguments": "", "id": None})
            if tc.id:
                e["id"] = tc.id
            if tc.function and tc.function.name:
                e["name"] = tc.function.name
            e["arguments"] += (tc.function.arguments or "") if tc.function else ""
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert [(e["name"], json.loads(e["arguments"])) for e in calls.values()] == [("get_time", {"zone": "UTC"})]
    assert all(e["id"] for e in calls.values())
    assert text.strip() == (content or "")


def test_sdk_parse_pydantic(server, client):
    """The SDK's own structured-output path: a pydantic model becomes a strict json_schema and the
    reply is parsed back into it."""
    if server.name != "default":
        pytest.skip("needs an instruction model (unbounded strings)")
    from pydantic import BaseModel, Field

    class City(BaseModel):
        name: str = Field(max_length=24)
        population: int = Field(ge=0, le=10**9)
        coastal: bool

    r = client.chat.completions.parse(model=served_model(server), response_format=City, max_tokens=200, temperature=0,
                                      messages=[{"role": "user", "content": "Give me a city as JSON."}])
    assert r.choices[0].finish_reason == "stop"
    city = r.choices[0].message.parsed
    assert isinstance(city, City)
    jsonschema.validate(json.loads(r.choices[0].message.content), City.model_json_schema())


def test_responses_function_calls(tools_server):
    """The Responses API's function tools: calls come back as function_call output items, plain and
    streamed (OpenAI's events), and a conversation with the call and its output can be sent back."""
    tool = {"type": "function", "name": "get_time", "parameters": TIME["function"]["parameters"]}
    forced = r'<tool_call>\{"name": "get_time", "arguments": \{"zone": "UTC"\}\}</tool_call>'
    body = {"model": "stories260K", "input": "What time is it?", "tools": [tool], "max_output_tokens": 200,
            "guided_regex": forced}
    status, out = post_json(tools_server.base + "/v1/responses", body)
    assert status == 200, out
    check_schema("Response", out)
    calls = [o for o in out["output"] if o["type"] == "function_call"]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("get_time", {"zone": "UTC"})]
    assert calls[0]["call_id"] and out["status"] == "completed"
    client = openai.OpenAI(base_url=tools_server.base + "/v1", api_key="unused", max_retries=0, timeout=60)
    r = client.responses.create(model="stories260K", input="What time is it?", tools=[tool], max_output_tokens=200,
                                extra_body={"guided_regex": forced})
    assert r.output[0].type == "function_call" and r.output[0].name == "get_time"
    events = list(client.responses.create(model="stories260K", input="What time is it?", tools=[tool],
                                          max_output_tokens=200, extra_body={"guided_regex": forced}, stream=True))
    raw = http("POST", tools_server.base + "/v1/responses", dict(body, stream=True))[2].decode()
    for block in [b for b in raw.split("\n\n") if b.strip()]:
        name, data = block.split("\n", 1)
        event = json.loads(data[len("data: "):])
        assert name == "event: " + event["type"]
        check_schema("ResponseStreamEvent", event)
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and json.loads(done[0].arguments) == {"zone": "UTC"}
    assert events[-1].type == "response.completed"
    assert [o.type for o in events[-1].response.output] == ["function_call"]
    # Sending the call and its result back.
    follow = client.responses.create(model="stories260K", tools=[tool], max_output_tokens=5, input=[
        {"role": "user", "content": "What time is it?"},
        {"type": "function_call", "call_id": r.output[0].call_id, "name": "get_time", "arguments": r.output[0].arguments},
        {"type": "function_call_output", "call_id": r.output[0].call_id, "output": "12:00"}])
    assert follow.status in ("completed", "incomplete")


def test_n_samples_each_constrained(server):
    """n > 1: every sample has its own matcher (and stays inside the constraint)."""
    body = {"model": served_model(server), "prompt": "Once upon a time", "max_tokens": 30, "temperature": 1.5,
            "seed": 9, "n": 4, "guided_regex": r"(cat|dog)s? (run|sleep)[.!]"}
    status, out = post_json(server.base + "/v1/completions", body)
    assert status == 200, out
    assert len(out["choices"]) == 4
    for c in out["choices"]:
        assert re.fullmatch(r"(cat|dog)s? (run|sleep)[.!]", c["text"]), c
        assert c["finish_reason"] == "stop"
    status, out = post_json(server.base + "/", {"prompt": "Once", "generate_config": {
        "num_beams": 2, "max_new_tokens": 4, "guided_choice": ["a", "b"]}})
    assert status == 400 and "beam" in json.dumps(out), out
