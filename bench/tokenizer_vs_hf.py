#!/usr/bin/env python3
"""Encode throughput, kite vs Hugging Face `tokenizers`, single-threaded, on the same text.

usage: bench/tokenizer_vs_hf.py BENCH_BINARY [--mb 4] [--families llama3,qwen2.5,...] [--repeat 3]

Builds a few MB of mixed text (the 324 hard strings of shared/tokenizers vectors, shuffled with a
fixed seed into ~8 KB documents: prose, code, CJK, numbers, emoji), checks that both give the same
ids, then prints MB/s for each and the ratio kite/HF. BENCH_BINARY is the built bench_tokenizer.
"""
import argparse, json, os, random, subprocess, sys, tempfile, time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
from tokenizers import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("KITE_SHARED_DIR", os.path.join(HERE, "../../shared"))
TOK = os.path.join(SHARED, "tokenizers")


def build_docs(total_mb, seed=7):
    with open(os.path.join(TOK, "gpt2", "vectors.shared.json"), encoding="utf-8") as f:
        strings = [c["text"] for c in json.load(f)["cases"] if c["text"]]
    rng = random.Random(seed)
    docs, size = [], 0
    while size < total_mb * 1e6:
        parts, n = [], 0
        while n < 8000:
            s = rng.choice(strings)
            parts.append(s)
            n += len(s.encode("utf-8")) + 1
        d = rng.choice([" ", "\n", ". "]).join(parts)
        docs.append(d)
        size += len(d.encode("utf-8"))
    return docs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--mb", type=float, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--families", default="llama3,qwen2.5,llama2,gpt2,bert,t5,deepseek-v3,falcon")
    a = ap.parse_args()
    docs = build_docs(a.mb)
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("\n\x1e\n".join(docs))
        path = f.name
    print(f"text: {len(docs)} documents, {nbytes / 1e6:.2f} MB")
    print(f"{'family':<12} {'HF MB/s':>9} {'kite MB/s':>10} {'kite/HF':>8}  same ids")
    try:
        for fam in a.families.split(","):
            hf = Tokenizer.from_file(os.path.join(TOK, fam, "tokenizer.json"))
            best, hf_ids = 1e30, None
            for _ in range(a.repeat):
                t = time.perf_counter()
                out = [hf.encode(d, add_special_tokens=False).ids for d in docs]
                best = min(best, time.perf_counter() - t)
                hf_ids = out
            hf_mbs = nbytes / best / 1e6
            p = subprocess.run([a.bench, os.path.join(TOK, fam), path, str(a.repeat)], capture_output=True, text=True)
            if p.returncode != 0:
                print(f"{fam}: bench failed: {p.stderr.strip()}")
                continue
            r = json.loads(p.stdout)
            same = r["tokens"] == sum(len(x) for x in hf_ids)
            print(f"{fam:<12} {hf_mbs:9.2f} {r['mb_per_s']:10.2f} {r['mb_per_s'] / hf_mbs:8.2f}  {'yes' if same else 'NO'}")
    finally:
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
