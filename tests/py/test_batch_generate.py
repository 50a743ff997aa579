"""`kite generate --requests FILE.jsonl` and `kite bench` end to end on stories260K.

Expected tokens come from shared/models/stories260K (reference.json: transformers' greedy ids and
text; generation.json: transformers' beam search), never from kite itself.
"""
import json
import os
import subprocess

import pytest
from tokenizers import Tokenizer

KITE = os.environ.get("KITE_BINARY", "kite")
SHARED = os.environ.get("KITE_SHARED_DIR", "/work/shared")
MODEL = os.path.join(SHARED, "models", "stories260K")


def load(name):
    with open(os.path.join(MODEL, name)) as f:
        return json.load(f)


REF = load("reference.json")["cases"]
GEN = load("generation.json")["cases"]
TOK = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))


def continuation_text(prompt_ids, output_ids):
    """The text the output adds to the prompt, by Hugging Face `tokenizers` (special tokens skipped)."""
    whole = TOK.decode(prompt_ids + output_ids, skip_special_tokens=True)
    head = TOK.decode(prompt_ids, skip_special_tokens=True)
    assert whole.startswith(head)
    return whole[len(head):]


def run_batch(tmp_path, lines, *flags):
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n")
    proc = subprocess.run([KITE, "generate", "--model", MODEL, "--requests", str(path), *flags],
                          capture_output=True, text=True, timeout=300)
    return proc, path


def outputs(proc):
    assert proc.returncode == 0, proc.stderr
    return [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]


def greedy_lines(max_new=40):
    lines = []
    for i, c in enumerate(REF):
        lines.append({"id": f"ids{i}", "prompt_ids": c["prompt_ids"], "max_new_tokens": max_new, "temperature": 0})
        lines.append({"id": f"text{i}", "prompt": c["prompt"], "max_new_tokens": max_new, "temperature": 0})
    return lines


@pytest.mark.parametrize("flags", [
    [],
    ["--max-num-seqs", "3", "--max-num-batched-tokens", "7", "--num-kv-blocks", "32", "--block-size", "4"],
    ["--max-num-batched-tokens", "9", "--num-kv-blocks", "32", "--block-size", "4", "--preemption-mode", "swap"],
    ["--policy", "static", "--max-num-seqs", "3", "--kv-cache-mem-mb", "1"],
    ["--policy", "priority", "--block-size", "1", "--num-kv-blocks", "200"],
])
def test_greedy_batch_matches_transformers(tmp_path, flags):
    proc, _ = run_batch(tmp_path, greedy_lines(), *flags)
    got = outputs(proc)
    assert [o["id"] for o in got] == [l["id"] for l in greedy_lines()]  # input order
    for i, c in enumerate(REF):
        for kind in ("ids", "text"):
            o = got[2 * i + (kind == "text")]
            assert o["output_ids"] == c["greedy_ids"][:40], (flags, o["id"])
            assert o["finish_reason"] == "length"
            assert o["text"] == continuation_text(c["prompt_ids"], c["greedy_ids"][:40])


def test_text_and_stop_strings(tmp_path):
    c = REF[0]
    proc, _ = run_batch(tmp_path, [
        {"id": "plain", "prompt": c["prompt"], "max_new_tokens": 30, "temperature": 0},
        {"id": "stop", "prompt": c["prompt"], "max_new_tokens": 100, "temperature": 0, "stop": ["park", "zzz"]},
        {"id": "stop1", "prompt": c["prompt"], "max_new_tokens": 100, "temperature": 0, "stop": "girl"},
    ])
    got = {o["id"]: o for o in outputs(proc)}
    assert got["plain"]["text"] == continuation_text(c["prompt_ids"], c["greedy_ids"][:30])
    assert c["greedy_text"].startswith(got["plain"]["text"])
    assert got["stop"]["text"] == c["greedy_text"][:c["greedy_text"].index("park")]
    assert got["stop"]["finish_reason"] == "stop"
    assert got["stop1"]["text"] == c["greedy_text"][:c["greedy_text"].index("girl")]


def test_n_and_beam_search_give_lists(tmp_path):
    beams = [g for g in GEN if g["kind"] == "beam_search"]
    lines = [{"id": "n", "prompt_ids": REF[1]["prompt_ids"], "max_new_tokens": 12, "temperature": 0, "n": 3}]
    for k, g in enumerate(beams):
        lines.append({"id": f"beam{k}", "prompt_ids": g["prompt_ids"], "max_new_tokens": g["max_new_tokens"],
                      "num_beams": g["num_beams"], "num_return_sequences": g["num_return_sequences"],
                      "length_penalty": g["length_penalty"]})
    got = {o["id"]: o for o in outputs(run_batch(tmp_path, lines)[0])}
    assert got["n"]["output_ids"] == [REF[1]["greedy_ids"][:12]] * 3
    assert got["n"]["finish_reason"] == ["length"] * 3
    for k, g in enumerate(beams):
        o = got[f"beam{k}"]
        assert o["output_ids"] == [x["output_ids"] for x in g["outputs"]]
        assert o["text"] == [x["text"] for x in g["outputs"]]
        assert o["scores"] == pytest.approx([x["score"] for x in g["outputs"]], abs=1e-4)


def test_prefix_cache_is_reported(tmp_path):
    c = REF[3]
    # One request after another cannot be forced from a file, but n > 1 requests with the same long
    # prompt admitted in later steps hit the first one's blocks: give the second a later turn.
    lines = [{"id": "a", "prompt_ids": c["prompt_ids"], "max_new_tokens": 8, "temperature": 0},
             {"id": "b", "prompt_ids": c["prompt_ids"], "max_new_tokens": 8, "temperature": 0}]
    got = outputs(run_batch(tmp_path, lines, "--max-num-seqs", "1", "--block-size", "8")[0])
    assert got[0]["num_cached_tokens"] == 0
    assert got[1]["num_cached_tokens"] == 72
    assert got[0]["output_ids"] == got[1]["output_ids"] == c["greedy_ids"][:8]


@pytest.mark.parametrize("line,needle", [
    ('{"id": "x", "prompt": 5}', '"prompt" must be a string'),
    ('{"id": "x"}', 'exactly one of "prompt" and "prompt_ids"'),
    ('{"id": "x", "prompt_ids": [1, 2], "max_new_tokens": "ten"}', 'max_new_tokens: expected an integer'),
    ('{not json', "not valid JSON"),
    ('{"id": "x", "prompt_ids": [1, 99999]}', "outside the vocabulary"),
    ('{"id": "x", "prompt_ids": [1, 2], "temperature": -1}', "temperature"),
    ('{"id": "x", "prompt_ids": [1, 2], "num_beams": 2, "num_return_sequences": 3}', "num_return_sequences"),
])
def test_bad_line_is_named(tmp_path, line, needle):
    proc, path = run_batch(tmp_path, ['{"id": "ok", "prompt_ids": [1, 2], "max_new_tokens": 2}', line])
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{path}:2:" in err, err
    assert needle in err, err
    assert proc.stdout == ""


def test_request_that_can_never_fit_is_rejected(tmp_path):
    proc, path = run_batch(tmp_path, [{"id": "big", "prompt_ids": [1] * 100, "max_new_tokens": 2}],
                           "--num-kv-blocks", "4", "--block-size", "16")
    assert proc.returncode != 0
    assert "KV" in proc.stderr and f"{path}:1:" in proc.stderr
    proc, path = run_batch(tmp_path, [{"id": "long", "prompt_ids": [1] * 600, "max_new_tokens": 2}])
    assert proc.returncode != 0 and "context" in proc.stderr


def test_bad_flags(tmp_path):
    for flags, needle in ((["--policy", "lifo"], "--policy"), (["--preemption-mode", "drop"], "--preemption-mode"),
                          (["--kv-cache-mem-mb", "4", "--num-kv-blocks", "9"], "at most one"),
                          (["--kv-cache-mem-fraction", "2"], "--kv-cache-mem-fraction")):
        proc, _ = run_batch(tmp_path, [{"id": "a", "prompt_ids": [1, 2]}], *flags)
        assert proc.returncode != 0 and needle in proc.stderr, proc.stderr


def test_bench_json():
    proc = subprocess.run([KITE, "bench", "--model", MODEL, "--num-requests", "8", "--input-len", "8",
                           "--output-len", "8", "--max-num-seqs", "4", "--repeat", "1", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    for key in ("continuous", "static"):
        assert d[key]["requests_per_s"] > 0 and d[key]["output_tokens_per_s"] > 0
    assert d["continuous_over_static"] > 0
