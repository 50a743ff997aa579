"""`kite perplexity` (shared/CLI.md): llama.cpp's scheme (chunks of --ctx tokens, BOS first, second half
scored) computed here with numpy from transformers' logits for stories260K; quantized runs stay close;
one-line errors for bad input."""
import json
import os
import subprocess

import numpy as np
import pytest
from safetensors.numpy import load_file

KITE = os.environ.get("KITE_BINARY", "build/kite")
SHARED = os.environ.get("KITE_SHARED_DIR", "../shared")
STORIES = os.path.join(SHARED, "models", "stories260K")
REF = json.load(open(os.path.join(STORIES, "reference.json")))
LOGITS = load_file(os.path.join(STORIES, "logits.safetensors"))


def run(*args):
    return subprocess.run([KITE, "perplexity", *args], capture_output=True, text=True, timeout=300)


def ppl_json(*args):
    p = run(*args, "--json")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.fixture()
def long_prompt(tmp_path):
    case = REF["cases"][3]  # 79 tokens starting with BOS: its first chunk of 32 is transformers' context
    path = tmp_path / "text.txt"
    path.write_text(case["prompt"])
    return path, case


def expected_ppl(logits, ids, ctx):
    first = ctx // 2
    nll = []
    for pos in range(first, ctx - 1):
        row = logits[pos].astype(np.float64)
        m = row.max()
        nll.append(np.log(np.exp(row - m).sum()) + m - row[ids[pos + 1]])
    return float(np.exp(np.mean(nll))), len(nll)


def test_first_chunk_matches_transformers_logits(long_prompt):
    path, case = long_prompt
    tok = subprocess.run([KITE, "tokenize", "--model", STORIES, "--jsonl"], input=json.dumps({"text": case["prompt"]}),
                         capture_output=True, text=True, timeout=60)
    assert json.loads(tok.stdout)["ids"] == case["prompt_ids"]
    want, count = expected_ppl(LOGITS["case3.logits"], case["prompt_ids"], 32)
    got = ppl_json("--model", STORIES, "--file", str(path), "--ctx", "32", "--chunks", "1")
    assert got["tokens_scored"] == count == 15
    assert got["chunks"] == 1 and got["ctx"] == 32
    assert abs(got["ppl"] - want) < 1e-4 * want


def test_text_output_and_quantized_runs_stay_close(long_prompt):
    path, _ = long_prompt
    p = run("--model", STORIES, "--file", str(path), "--ctx", "32")
    assert p.returncode == 0, p.stderr
    assert "Final estimate: PPL = " in p.stdout and "[2]" in p.stdout
    base = ppl_json("--model", STORIES, "--file", str(path), "--ctx", "32")["ppl"]
    int8 = ppl_json("--model", STORIES, "--file", str(path), "--ctx", "32", "--quantization", "int8")["ppl"]
    int4 = ppl_json("--model", STORIES, "--file", str(path), "--ctx", "32", "--quantization", "int4",
                    "--quant-group-size", "32")["ppl"]
    assert abs(int8 - base) < 0.02 * base
    assert abs(int4 - base) < 0.25 * base


@pytest.mark.parametrize("args,message", [
    ([], "--model is required"),
    (["--model", STORIES], "--file is required"),
    (["--model", STORIES, "--file", "/nonexistent/x.txt"], "/nonexistent/x.txt"),
    (["--model", STORIES, "--file", "TEXT", "--ctx", "64"], "needs at least 128"),
    (["--model", STORIES, "--file", "TEXT", "--ctx", "1024"], "exceeds the model's context length 512"),
    (["--model", STORIES, "--file", "TEXT", "--ctx", "abc"], "--ctx"),
    (["--model", STORIES, "--file", "TEXT", "--quantization", "int3"], "expected int8, int4 or fp8"),
])
def test_bad_input_is_one_line_error(long_prompt, args, message):
    path, _ = long_prompt
    args = [str(path) if a == "TEXT" else a for a in args]
    p = run(*args)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], p.stderr
