"""`kite generate` on the default GGUF model (scripts/fetch_default_model.sh): greedy ids equal to
transformers' (tests/data/gguf_reference.json, made by tools/gguf/make_reference.py) on both weight
paths (stored blocks, the default, and --dequantize-at-load), a sensible chat answer, --cpu-int8-activations
following them on a prompt without near-ties, and one-line errors for broken GGUF files."""
import json
import os
import subprocess

import pytest

KITE = os.environ.get("KITE_BINARY", "build/kite")
SRC = os.environ.get("KITE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODEL = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
REF = json.load(open(os.path.join(SRC, "tests", "data", "gguf_reference.json")))

needs_model = pytest.mark.skipif(not os.path.exists(MODEL), reason="run scripts/fetch_default_model.sh")


def run(*args):
    return subprocess.run([KITE, "generate", *args], capture_output=True, text=True, timeout=300)


def gen_json(*args):
    p = run(*args, "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@needs_model
@pytest.mark.parametrize("extra", [[], ["--dequantize-at-load"], ["--keep-quantized"]])
def test_greedy_ids_match_transformers(extra):
    case = next(c for c in REF["prompts"] if c["name"] == "chat_haiku")
    j = gen_json("--model", MODEL, "--prompt-ids", ",".join(map(str, case["prompt_ids"])),
                 "--max-new-tokens", str(len(case["greedy_ids"])), "--temperature", "0", "--ignore-eos", *extra)
    assert j["output_ids"] == case["greedy_ids"]
    assert j["finish_reason"] == "length"


@needs_model
def test_chat_answers_sensibly_and_stops_at_im_end():
    j = gen_json("--model", MODEL, "--chat", "--prompt", "What is the capital of France?",
                 "--temperature", "0", "--max-new-tokens", "40")
    assert "Paris" in j["text"]
    assert j["finish_reason"] == "stop"
    # The chat prompt is what transformers' apply_chat_template made of the same message.
    ref = next(c for c in REF["prompts"] if c["name"] == "chat_capital")
    assert j["output_ids"] == ref["greedy_ids"][:len(j["output_ids"])]


@needs_model
def test_int8_activations_follow_transformers_on_a_clear_prompt():
    """The approximate opt-in mode (logit closeness is tested in test_model): on chat_haiku, whose
    greedy path has no near-ties early on, the first 16 ids are transformers'."""
    case = next(c for c in REF["prompts"] if c["name"] == "chat_haiku")
    j = gen_json("--model", MODEL, "--prompt-ids", ",".join(map(str, case["prompt_ids"])),
                 "--max-new-tokens", "16", "--temperature", "0", "--ignore-eos", "--cpu-int8-activations")
    assert j["output_ids"] == case["greedy_ids"][:16]


def test_contradicting_weight_flags_give_one_line_error():
    p = run("--model", MODEL, "--prompt-ids", "1", "--dequantize-at-load", "--keep-quantized")
    assert p.returncode != 0 and "--dequantize-at-load" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = run("--model", MODEL, "--prompt-ids", "1", "--dequantize-at-load", "--cpu-int8-activations")
    assert p.returncode != 0 and "--cpu-int8-activations" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@needs_model
@pytest.mark.parametrize("cut,expect", [(3, "too short"), (100, "truncated"), (200000, "truncated")])
def test_truncated_file_gives_one_line_error(tmp_path, cut, expect):
    bad = tmp_path / "cut.gguf"
    with open(MODEL, "rb") as f:
        bad.write_bytes(f.read(cut))
    p = run("--model", str(bad), "--prompt-ids", "1,2", "--max-new-tokens", "1")
    assert p.returncode != 0
    lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert "cut.gguf" in lines[0] and expect in lines[0], lines[0]


def test_bad_magic_and_missing_file(tmp_path):
    bad = tmp_path / "junk.gguf"
    bad.write_bytes(b"NOPE" + bytes(64))
    p = run("--model", str(bad), "--prompt-ids", "1", "--max-new-tokens", "1")
    assert p.returncode != 0 and "not a GGUF file" in p.stderr and "junk.gguf" in p.stderr
    p = run("--model", str(tmp_path / "absent.gguf"), "--prompt-ids", "1", "--max-new-tokens", "1")
    assert p.returncode != 0 and "absent.gguf" in p.stderr
