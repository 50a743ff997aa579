"""rtp-llm's native API (POST /) and the plain endpoints (/tokenize, /detokenize, /health, /metrics,
/worker_status) over plain HTTP on stories260K. Expected ids and text come from transformers
(shared/models/stories260K reference.json and generation.json) and the `tokenizers` library."""
import json
import os

import pytest
from tokenizers import Tokenizer

from server_helpers import MODEL_DIR, KiteServer, http, post_json, reference, sse_events

REF = reference()
CASE0, CASE1 = REF["cases"][0], REF["cases"][1]
HF_TOK = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
with open(os.path.join(MODEL_DIR, "generation.json")) as f:
    GENERATION = json.load(f)


def continuation(prompt_ids, ids):
    prompt = HF_TOK.decode(prompt_ids, skip_special_tokens=True)
    return HF_TOK.decode(prompt_ids + ids, skip_special_tokens=True)[len(prompt):]


def ref_text(case, n):
    return continuation(case["prompt_ids"], case["greedy_ids"][:n])


@pytest.fixture(scope="module")
def server():
    s = KiteServer(log_name="native")
    yield s
    assert s.stop() == 0


def native(server, body):
    status, out = post_json(server.base + "/", body)
    assert status == 200, out
    return out


def test_greedy_with_ids_and_aux_info(server):
    out = native(server, {"prompt": CASE0["prompt"], "generate_config": {
        "max_new_tokens": 20, "top_k": 1, "return_output_ids": True, "return_input_ids": True}})
    assert out["response"] == ref_text(CASE0, 20)
    assert out["finished"] is True
    assert out["output_ids"] == [CASE0["greedy_ids"][:20]]
    assert out["input_ids"] == [CASE0["prompt_ids"]]
    aux = out["aux_info"]
    assert aux["input_len"] == len(CASE0["prompt_ids"]) and aux["output_len"] == 20
    assert aux["iter_count"] >= 1 and aux["cost_time"] >= aux["first_token_cost_time"] > 0
    assert aux["reuse_len"] >= 0


def test_top_level_fields_and_temperature_zero(server):
    out = native(server, {"prompt": CASE1["prompt"], "max_new_tokens": 12, "temperature": 0})
    assert out["response"] == ref_text(CASE1, 12)


@pytest.mark.parametrize("incremental", [False, True])
def test_stream(server, incremental):
    body = {"prompt": CASE0["prompt"], "generate_config": {"max_new_tokens": 24, "top_k": 1,
                                                           "return_incremental": incremental}, "yield_generator": True}
    status, headers, raw = http("POST", server.base + "/", body)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert raw.startswith(b"data:{")
    events = sse_events(raw, native=True)
    assert [e["finished"] for e in events] == [False] * (len(events) - 1) + [True]
    texts = [e["response"] for e in events]
    expected = ref_text(CASE0, 24)
    if incremental:
        assert "".join(texts) == expected
    else:
        for a, b in zip(texts, texts[1:]):
            assert b.startswith(a)
        assert texts[-1] == expected
    assert events[-1]["aux_info"]["output_len"] == 24


def test_prompt_batch(server):
    out = native(server, {"prompt_batch": [CASE0["prompt"], CASE1["prompt"]],
                          "generate_config": {"max_new_tokens": 10, "top_k": 1}})
    assert [r["response"] for r in out["response_batch"]] == [ref_text(CASE0, 10), ref_text(CASE1, 10)]
    assert all(r["finished"] for r in out["response_batch"])


def test_num_return_sequences_sampling(server):
    out = native(server, {"prompt": "Once", "generate_config": {"max_new_tokens": 8, "temperature": 1.0,
                                                                "num_return_sequences": 2, "random_seed": 5}})
    assert isinstance(out["response"], list) and len(out["response"]) == 2
    assert isinstance(out["aux_info"], list) and [a["output_len"] for a in out["aux_info"]] == [8, 8]


def test_beam_search_matches_transformers(server):
    case = next(c for c in GENERATION["cases"] if c["kind"] == "beam_search" and c["num_beams"] == 2)
    out = native(server, {"prompt": case["prompt"], "generate_config": {
        "max_new_tokens": case["max_new_tokens"], "num_beams": 2, "num_return_sequences": 2,
        "return_output_ids": True}})
    assert out["output_ids"] == [o["output_ids"] for o in case["outputs"]]
    assert out["response"] == [continuation(case["prompt_ids"], o["output_ids"]) for o in case["outputs"]]


def test_repetition_penalty_matches_transformers(server):
    case = next(c for c in GENERATION["cases"] if c["kind"] == "greedy_repetition_penalty")
    out = native(server, {"prompt": case["prompt"], "generate_config": {
        "max_new_tokens": case["max_new_tokens"], "top_k": 1, "repetition_penalty": case["repetition_penalty"],
        "return_output_ids": True}})
    assert out["output_ids"] == [case["output_ids"]]


def test_stop_words(server):
    full = ref_text(CASE0, 40)
    out = native(server, {"prompt": CASE0["prompt"], "generate_config": {"max_new_tokens": 40, "top_k": 1,
                                                                         "stop_words_str": ["Lily"]}})
    assert out["response"] == full.split("Lily")[0]
    # A one-token stop word given as ids: the first greedy token after the prompt's 4th new token.
    stop_id = CASE0["greedy_ids"][4]
    out = native(server, {"prompt": CASE0["prompt"], "generate_config": {
        "max_new_tokens": 40, "top_k": 1, "stop_words_list": [[stop_id]], "return_output_ids": True}})
    assert out["output_ids"][0][:4] == CASE0["greedy_ids"][:4]
    assert len(out["output_ids"][0]) <= 5


def test_timeout(server):
    status, body = post_json(server.base + "/", {"prompt": "Once", "generate_config": {
        "max_new_tokens": 480, "timeout_ms": 1, "temperature": 0}})
    assert status == 408, body
    assert body["error"]["param"] == "timeout_ms"


def test_native_bad_inputs(server):
    for body in [{"generate_config": {"max_new_tokens": 3}},
                 {"prompt": 5},
                 {"prompt": "x", "generate_config": "fast"},
                 {"prompt": "x", "generate_config": {"max_new_tokens": "ten"}},
                 {"prompt": "x", "generate_config": {"top_p": 2}},
                 {"prompt": "x", "generate_config": {"num_beams": 2, "num_return_sequences": 3}},
                 {"prompt": "x", "generate_config": {"stop_words_list": [["a"]]}},
                 {"prompt": "x", "generate_config": {"stop_words_list": [[99999]]}},
                 {"prompt_batch": []}]:
        status, out = post_json(server.base + "/", body)
        assert status == 400, (body, out)
        assert out["error"]["type"] == "invalid_request_error" and out["error"]["message"]


def test_tokenize_detokenize(server):
    text = "Tom had a big red car."
    status, out = post_json(server.base + "/tokenize", {"prompt": text})
    assert status == 200
    expected = HF_TOK.encode(text).ids
    assert out["tokens"] == expected and out["count"] == len(expected) and out["max_model_len"] == 512
    status, out2 = post_json(server.base + "/tokenize", {"prompt": text, "add_special_tokens": False})
    assert out2["tokens"] == HF_TOK.encode(text, add_special_tokens=False).ids
    status, out3 = post_json(server.base + "/detokenize", {"tokens": expected})
    assert status == 200 and out3["prompt"] == HF_TOK.decode(expected, skip_special_tokens=False)
    status, _ = post_json(server.base + "/detokenize", {"tokens": [1, 100000]})
    assert status == 400


def test_health_metrics_worker_status(server):
    status, _, body = http("GET", server.base + "/health")
    assert status == 200
    native(server, {"prompt": "Once", "max_new_tokens": 4})
    m = server.metrics()
    for key in ["kite:num_requests_running", "kite:num_requests_waiting", "kite:kv_cache_usage_perc",
                "kite:prefix_cache_hit_rate", "kite:kv_cache_free_blocks", 'kite:http_requests_total{status="200"}',
                "kite:time_to_first_token_seconds_count", "kite:inter_token_latency_seconds_count",
                "kite:e2e_request_latency_seconds_count", "kite:prompt_tokens_total", "kite:generation_tokens_total"]:
        assert key in m, key
    assert m["kite:generation_tokens_total"] >= 4
    assert m['kite:e2e_request_latency_seconds_bucket{le="+Inf"}'] == m["kite:e2e_request_latency_seconds_count"]
    status, _, raw = http("GET", server.base + "/worker_status")
    ws = json.loads(raw)
    assert status == 200 and ws["alive"] is True and ws["total_kv_cache_blocks"] > 0
