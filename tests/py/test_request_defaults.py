"""The model's generation_config.json is applied the same way by every front end. stories260K's says
`do_sample: false`, so a request that sets no temperature is greedy decoding, as transformers'
generate() is: its ids equal transformers' greedy reference (shared/models/stories260K
reference.json) whatever the seed, through the native API, /v1/completions and --requests alike."""
import json
import os
import subprocess

import pytest
from tokenizers import Tokenizer

from server_helpers import MODEL_DIR, KiteServer, post_json, reference

KITE = os.environ.get("KITE_BINARY", "build/kite")
REF = reference()
CASE = REF["cases"][1]
N = 16
HF_TOK = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))


@pytest.fixture(scope="module")
def server():
    s = KiteServer(log_name="defaults")
    yield s
    assert s.stop() == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_native_is_greedy_without_a_temperature(server, seed):
    status, out = post_json(server.base + "/", {"prompt_batch": [CASE["prompt"]], "max_new_tokens": N,
                                                "random_seed": seed, "return_output_ids": True})
    assert status == 200, out
    assert out["response_batch"][0]["output_ids"] == [CASE["greedy_ids"][:N]]


@pytest.mark.parametrize("seed", [1, 2])
def test_completions_are_greedy_without_a_temperature(server, seed):
    status, out = post_json(server.base + "/v1/completions", {"prompt": CASE["prompt_ids"], "max_tokens": N,
                                                              "seed": seed})
    assert status == 200, out
    prompt = HF_TOK.decode(CASE["prompt_ids"], skip_special_tokens=True)
    expected = HF_TOK.decode(CASE["prompt_ids"] + CASE["greedy_ids"][:N], skip_special_tokens=True)[len(prompt):]
    assert out["choices"][0]["text"] == expected


def test_requests_file_is_greedy_without_a_temperature(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{seed}", "prompt_ids": CASE["prompt_ids"], "max_new_tokens": N,
                                        "seed": seed}) + "\n" for seed in (1, 2)))
    model = os.path.join(os.environ.get("KITE_SHARED_DIR", "../shared"), "models", "stories260K")
    p = subprocess.run([KITE, "generate", "--model", model, "--requests", str(path)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    for line in p.stdout.splitlines():
        assert json.loads(line)["output_ids"] == CASE["greedy_ids"][:N]
