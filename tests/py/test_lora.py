"""Multi-LoRA on stories260K against shared/lora: for every adapter (PEFT format: r/alpha, rslora,
rank_pattern/alpha_pattern, any subset of the seven projections) the greedy ids must equal what
transformers + peft produce, alone and in one batch that mixes all adapters and the base model;
`kite serve --lora-modules`, selection by "model" (OpenAI SDK) and "adapter_name" (native API),
/v1/models, runtime load/unload, LRU eviction, and `kite generate --lora`."""
import concurrent.futures
import json
import os
import subprocess

import openai
import pytest
from tokenizers import Tokenizer

from server_helpers import KITE_BINARY, MODEL_DIR, SHARED_DIR, KiteServer, check_schema, http, post_json, reference

LORA_DIR = os.path.join(SHARED_DIR, "lora")
ADAPTERS = ["qv-r4", "all-r8-rslora", "mlp-r2-rank-pattern"]
BASE = reference()


def lora_ref(name):
    with open(os.path.join(LORA_DIR, name, "reference.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def server():
    args = []
    for a in ADAPTERS[:2]:
        args += ["--lora-modules", f"{a}={os.path.join(LORA_DIR, a)}"]
    s = KiteServer(*args, "--max-loras", "3", log_name="lora")
    # The third comes at run time.
    status, out = post_json(s.base + "/v1/load_lora_adapter",
                            {"lora_name": ADAPTERS[2], "lora_path": os.path.join(LORA_DIR, ADAPTERS[2])})
    assert status == 200, out
    yield s
    assert s.stop() == 0


HF_TOK = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))


def ref_text(prompt_ids, ids):
    prompt = HF_TOK.decode(prompt_ids, skip_special_tokens=True)
    return HF_TOK.decode(prompt_ids + ids, skip_special_tokens=True)[len(prompt):]


def generate(server, prompt_ids, model, n=24):
    """The greedy continuation's text (prompt given as ids); `model` None is the base model."""
    body = {"prompt": prompt_ids, "max_tokens": n, "temperature": 0, "ignore_eos": True}
    if model:
        body["model"] = model
    status, out = post_json(server.base + "/v1/completions", body)
    assert status == 200, out
    assert out["usage"]["completion_tokens"] == n
    return out["choices"][0]["text"]


def test_models_lists_adapters(server):
    status, _, raw = http("GET", server.base + "/v1/models")
    body = json.loads(raw)
    check_schema("ListModelsResponse", body)
    ids = {m["id"]: m for m in body["data"]}
    assert set(ids) == {"stories260K", *ADAPTERS}
    for a in ADAPTERS:
        assert ids[a]["parent"] == "stories260K"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_each_adapter_matches_peft(server, adapter):
    client = openai.OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0, timeout=60)
    for case in lora_ref(adapter)["cases"]:
        r = client.completions.create(model=adapter, prompt=case["prompt_ids"], max_tokens=24, temperature=0,
                                      extra_body={"ignore_eos": True})
        assert r.choices[0].text == ref_text(case["prompt_ids"], case["greedy_ids"]), adapter
    # The native API selects it with adapter_name.
    case = lora_ref(adapter)["cases"][0]
    prompt = HF_TOK.decode(case["prompt_ids"], skip_special_tokens=True)
    status, out = post_json(server.base + "/", {"prompt": prompt, "generate_config": {
        "max_new_tokens": 24, "top_k": 1, "adapter_name": adapter, "return_output_ids": True}})
    assert status == 200, out
    if HF_TOK.encode(prompt).ids == case["prompt_ids"]:
        got = out["output_ids"][0]
        assert got == case["greedy_ids"][:len(got)]


def test_mixed_batch_matches_every_reference(server):
    """All adapters and the base model in flight together: the base GEMM is shared, each sequence
    gets its own adapter's delta, and each request still gets exactly its reference."""
    jobs = []
    for case in BASE["cases"]:
        jobs.append((None, case["prompt_ids"], case["greedy_ids"][:24]))
    for a in ADAPTERS:
        for case in lora_ref(a)["cases"]:
            jobs.append((a, case["prompt_ids"], case["greedy_ids"]))
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(generate, server, p, a) for a, p, _ in jobs]
        results = [f.result() for f in futures]
    for (a, p, want), got in zip(jobs, results):
        assert got == ref_text(p, want), (a, p)


def test_prefix_cache_keyed_by_adapter(server):
    # The same prompt, base then adapter then base: a cached base prefix must not serve the adapter.
    case = lora_ref("qv-r4")["cases"][0]
    long_prompt = case["prompt_ids"]
    base_case = next(c for c in BASE["cases"] if c["prompt_ids"] == long_prompt)
    for _ in range(2):
        assert generate(server, long_prompt, None) == ref_text(long_prompt, base_case["greedy_ids"][:24])
        assert generate(server, long_prompt, "qv-r4") == ref_text(long_prompt, case["greedy_ids"])


def test_unknown_adapter_and_unload(server):
    status, out = post_json(server.base + "/v1/completions", {"model": "nope", "prompt": "Once", "max_tokens": 2})
    assert status == 404 and out["error"]["message"].startswith("model:"), out
    status, out = post_json(server.base + "/", {"prompt": "Once", "generate_config": {"adapter_name": "nope"}})
    assert status == 404, out
    status, out = post_json(server.base + "/v1/load_lora_adapter", {"lora_name": "x", "lora_path": "/no/such/dir"})
    assert status == 400 and out["error"]["message"].startswith("lora_path:"), out
    status, out = post_json(server.base + "/v1/load_lora_adapter",
                            {"lora_name": ADAPTERS[0], "lora_path": os.path.join(LORA_DIR, ADAPTERS[0])})
    assert status == 400 and out["error"]["message"].startswith("lora_name:"), out
    # Unload, then the name is unknown; load it again under another name.
    assert post_json(server.base + "/v1/unload_lora_adapter", {"lora_name": "qv-r4"})[0] == 200
    assert post_json(server.base + "/v1/completions", {"model": "qv-r4", "prompt": "Once", "max_tokens": 2})[0] == 404
    assert post_json(server.base + "/v1/unload_lora_adapter", {"lora_name": "qv-r4"})[0] == 404
    assert post_json(server.base + "/v1/load_lora_adapter",
                     {"lora_name": "again", "lora_path": os.path.join(LORA_DIR, "qv-r4")})[0] == 200
    case = lora_ref("qv-r4")["cases"][1]
    assert generate(server, case["prompt_ids"], "again") == ref_text(case["prompt_ids"], case["greedy_ids"])


def test_lru_eviction():
    s = KiteServer("--max-loras", "2", log_name="lora_lru")
    try:
        for a in ADAPTERS:
            status, out = post_json(s.base + "/v1/load_lora_adapter", {"lora_name": a, "lora_path": os.path.join(LORA_DIR, a)})
            assert status == 200, out
        # The first one was the least recently used.
        ids = {m["id"] for m in json.loads(http("GET", s.base + "/v1/models")[2])["data"]}
        assert ids == {"stories260K", ADAPTERS[1], ADAPTERS[2]}
    finally:
        assert s.stop() == 0


def test_generate_cli_lora():
    case = lora_ref("all-r8-rslora")["cases"][2]
    out = subprocess.run([KITE_BINARY, "generate", "--model", MODEL_DIR, "--lora", os.path.join(LORA_DIR, "all-r8-rslora"),
                          "--prompt-ids", ",".join(map(str, case["prompt_ids"])), "--max-new-tokens", "24",
                          "--temperature", "0", "--ignore-eos", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["output_ids"] == case["greedy_ids"]
    bad = subprocess.run([KITE_BINARY, "generate", "--model", MODEL_DIR, "--lora", "/no/such", "--prompt", "x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "adapter_config.json" in bad.stderr
