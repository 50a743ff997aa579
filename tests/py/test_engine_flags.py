"""One set of engine flags for every command that builds an engine (`generate`, `generate --requests`,
`bench`, `serve`): the same "Model and engine" --help section, the same names, bounds and one-line errors,
and the rtp-llm spellings `kite serve` always had (`--max-seq-len`, `--reuse-cache`) still work."""
import json
import os
import subprocess

import pytest

KITE = os.environ.get("KITE_BINARY", "build/kite")
SHARED = os.environ.get("KITE_SHARED_DIR", "../shared")
STORIES = os.path.join(SHARED, "models", "stories260K")

COMMANDS = {
    "generate --requests": ["generate", "--requests", "x.jsonl"],
    "bench": ["bench"],
    "serve": ["serve"],
}


def kite(*args, env=None):
    return subprocess.run([KITE, *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def engine_section(args):
    p = kite(*args, "--help")
    assert p.returncode == 0, p.stderr
    text = p.stdout
    assert "\nModel and engine:\n" in text, text
    return text[text.index("\nModel and engine:\n"):]


def test_every_engine_command_shows_the_same_engine_section():
    sections = {name: engine_section(args) for name, args in dict(COMMANDS, generate=["generate"]).items()}
    first = sections["serve"]
    for flag in ("--device", "--max-num-seqs", "--max-num-batched-tokens", "--max-model-len", "--kv-cache-mem-mb",
                 "--num-kv-blocks", "--kv-cache-mem-fraction", "--gpu-memory-utilization", "--block-size",
                 "--preemption-mode", "--policy", "--no-prefix-caching"):
        assert flag in first, flag
    for name, text in sections.items():
        assert text == first, f"{name} shows another engine section"


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("flags,needle", [
    (["--kv-cache-mem-fraction", "2"], "--kv-cache-mem-fraction"),
    (["--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization"),
    (["--policy", "lifo"], "--policy"),
    (["--kv-cache-mem-mb", "4", "--num-kv-blocks", "9"], "at most one"),
    (["--reuse-cache", "maybe"], "--reuse-cache"),
])
def test_bad_engine_flags_fail_alike(name, flags, needle):
    p = kite(*COMMANDS[name], "--model", STORIES, *flags)
    assert p.returncode != 0
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


def run_batch(tmp_path, *flags, env=None):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": "a", "prompt_ids": [1, 2, 3], "max_new_tokens": 4, "temperature": 0}) + "\n")
    return kite("generate", "--model", STORIES, "--requests", str(path), *flags, env=env)


def test_rtp_llm_spellings_and_environment(tmp_path):
    base = run_batch(tmp_path)
    assert base.returncode == 0, base.stderr
    for flags, env in ((["--max-seq-len", "64", "--reuse-cache", "0"], None),
                       (["--kv-cache-mem-fraction", "0.01"], None),
                       ([], {"MAX_SEQ_LEN": "64", "REUSE_CACHE": "off", "SEQ_SIZE_PER_BLOCK": "8"}),
                       # A size on the command line beats another one from the environment.
                       (["--num-kv-blocks", "64"], {"KV_CACHE_MEM_MB": "1"})):
        p = run_batch(tmp_path, *flags, env=env)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["output_ids"] == json.loads(base.stdout)["output_ids"]
    # The context limit is applied: a prompt longer than --max-seq-len is refused, naming the context.
    p = run_batch(tmp_path, "--max-seq-len", "3")
    assert p.returncode != 0 and "context" in p.stderr, p.stderr
