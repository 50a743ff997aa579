#!/usr/bin/env python3
"""Every code point from U+0080 to U+2FFFF (no surrogates) through kite and HF `tokenizers`, in
"x{c}y {c}{c}", for one family; prints the number of differences and their ranges. Finds where
kite's Unicode data (utf8proc, PCRE2) and HF's tables disagree.

usage: hf_codepoint_scan.py KITE_BINARY FAMILY     (by hand; needs the tokenizers package)
"""
import json, os, subprocess, sys

from tokenizers import Tokenizer

SHARED = os.environ.get("KITE_SHARED_DIR", os.path.join(os.path.dirname(__file__), "../../../shared"))


def main():
    kite, fam = sys.argv[1], sys.argv[2]
    path = os.path.join(SHARED, "tokenizers", fam, "tokenizer.json")
    hf = Tokenizer.from_file(path)
    cps = [c for c in range(0x80, 0x30000) if not (0xD800 <= c <= 0xDFFF)]
    texts = ["x" + chr(c) + "y " + chr(c) + chr(c) for c in cps]
    want = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    inp = "\n".join(json.dumps({"text": t, "add_special_tokens": False}) for t in texts) + "\n"
    p = subprocess.run([kite, "tokenize", "--model", path, "--jsonl"], input=inp, capture_output=True, text=True)
    got = [json.loads(line)["ids"] for line in p.stdout.split("\n") if line]
    bad = [cps[i] for i in range(len(cps)) if got[i] != want[i]]
    print(fam, "differences:", len(bad), "of", len(cps))
    ranges = []
    for c in bad:
        if ranges and c == ranges[-1][1] + 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    print(" ".join(f"{a:04X}-{b:04X}" if a != b else f"{a:04X}" for a, b in ranges))


if __name__ == "__main__":
    main()
