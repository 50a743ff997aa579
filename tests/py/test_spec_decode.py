"""Speculative decoding through the command line and the server: greedy output of the default
GGUF model equals transformers' reference ids (tests/data/gguf_reference.json) and kite's own
non-speculative output with prompt-lookup drafts on; `kite serve` reports the draft and accepted
token counters in /metrics; bad flag combinations are one-line errors."""
import json
import os
import re
import subprocess
import urllib.request

import pytest

from server_helpers import KiteServer

KITE = os.environ.get("KITE_BINARY", "build/kite")
SRC = os.environ.get("KITE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHARED = os.environ.get("KITE_SHARED_DIR", os.path.join(SRC, "..", "shared"))
MODEL = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
STORIES = os.path.join(SHARED, "models", "stories260K")
REF = json.load(open(os.path.join(SRC, "tests", "data", "gguf_reference.json")))
SPEC = ["--speculative-ngram", "2", "--num-speculative-tokens", "5"]

needs_model = pytest.mark.skipif(not os.path.exists(MODEL), reason="run scripts/fetch_default_model.sh")


def gen_json(*args):
    p = subprocess.run([KITE, "generate", *args, "--json"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@needs_model
@pytest.mark.parametrize("name", ["chat_haiku", "text_france"])
def test_default_model_greedy_is_unchanged_by_drafts(name):
    case = next(c for c in REF["prompts"] if c["name"] == name)
    args = ["--model", MODEL, "--prompt-ids", ",".join(map(str, case["prompt_ids"])),
            "--max-new-tokens", str(len(case["greedy_ids"])), "--temperature", "0", "--ignore-eos"]
    plain = gen_json(*args)
    spec = gen_json(*args, *SPEC)
    assert spec["output_ids"] == plain["output_ids"]
    if name == "chat_haiku":  # the case test_gguf_cli checks against transformers
        assert spec["output_ids"] == case["greedy_ids"]


def test_requests_file_batch_matches_reference_with_drafts(tmp_path):
    ref = json.load(open(os.path.join(STORIES, "reference.json")))
    lines = [{"id": f"c{i}", "prompt_ids": c["prompt_ids"], "max_new_tokens": 50, "temperature": 0}
             for i, c in enumerate(ref["cases"])]
    lines.append({"id": "sampled", "prompt_ids": ref["cases"][0]["prompt_ids"], "max_new_tokens": 20,
                  "temperature": 1.0, "seed": 1, "n": 2})
    f = tmp_path / "r.jsonl"
    f.write_text("".join(json.dumps(l) + "\n" for l in lines))
    p = subprocess.run([KITE, "generate", "--model", STORIES, "--requests", str(f), *SPEC],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = {j["id"]: j for j in map(json.loads, p.stdout.strip().splitlines())}
    for i, c in enumerate(ref["cases"]):
        assert out[f"c{i}"]["output_ids"] == c["greedy_ids"][:50]


def metric(text, name):
    m = re.search("^" + re.escape(name) + r"\s+([0-9.e+]+)$", text, re.M)
    assert m, name + " missing from /metrics"
    return float(m.group(1))


def test_metrics_report_draft_and_accepted_tokens():
    ref = json.load(open(os.path.join(STORIES, "reference.json")))
    srv = KiteServer(*SPEC, log_name="spec")
    try:
        for c in ref["cases"]:
            body = {"prompt": c["prompt_ids"], "max_tokens": 150, "temperature": 0}
            req = urllib.request.Request(srv.base + "/v1/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                assert r.status == 200
        with urllib.request.urlopen(srv.base + "/metrics", timeout=10) as r:
            text = r.read().decode()
        drafts = metric(text, "kite:spec_decode_num_draft_tokens_total")
        accepted = metric(text, "kite:spec_decode_num_accepted_tokens_total")
        assert drafts > 0 and 0 < accepted <= drafts
    finally:
        srv.stop()


@pytest.mark.parametrize("flags,expect", [
    (["--num-speculative-tokens", "3"], "--speculative-ngram"),
    (["--speculative-ngram", "2"], "--num-speculative-tokens"),
    (["--speculative-ngram", "0", "--num-speculative-tokens", "2"], "--speculative-ngram"),
    (["--speculative-ngram", "2", "--num-speculative-tokens", "100"], "--num-speculative-tokens"),
    (["--speculative-model", "/no/such/model", "--num-speculative-tokens", "2"], "--speculative-model"),
])
def test_bad_speculative_flags_are_one_line_errors(flags, expect):
    p = subprocess.run([KITE, "generate", "--model", STORIES, "--prompt-ids", "1,2", "--max-new-tokens", "2", *flags],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and expect in lines[0], p.stderr
