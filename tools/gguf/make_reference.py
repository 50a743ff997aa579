#!/usr/bin/env python3
"""Reference logits of the default GGUF model from transformers, for tests/model/test_gguf_reference.cpp.

transformers loads the GGUF file itself (dequantizing every tensor to float32 with the `gguf`
package and undoing llama.cpp's Q/K permutation), so these numbers are independent of kite. For each
prompt (raw text and chat-formatted, as token ids) it records 64 greedy tokens (EOS ignored) and,
for every position of prompt + greedy[:-1], the top-32 (id, logit) pairs and the logits at 64 fixed
vocabulary ids. Full logit rows (49152 floats each) would not fit in git; this stays under 1 MB.

usage: make_reference.py [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--out tests/data/gguf_reference.json]
needs: pip install torch transformers accelerate gguf
"""
import argparse
import json
import os

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

NEW_TOKENS = 64
TOP_K = 32

PROMPTS = [
    {"name": "text_france", "text": "The capital of France is"},
    {"name": "text_story", "text": "Once upon a time, in a small village by the sea, there lived"},
    {"name": "chat_capital", "messages": [{"role": "user", "content": "What is the capital of France?"}]},
    {"name": "chat_haiku", "messages": [{"role": "user", "content": "Write a haiku about the ocean."}]},
    {"name": "chat_system", "messages": [{"role": "system", "content": "You are a concise assistant."},
                                         {"role": "user", "content": "List three primary colors."}]},
]


def f32(v):
    """Shortest decimal that reads back as the same float32 (keeps the JSON small)."""
    return float(str(np.float32(v)))


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(root, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=os.path.join(root, "tests/data/gguf_reference.json"))
    args = ap.parse_args()
    folder, name = os.path.split(os.path.abspath(args.model))
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    vocab = model.config.vocab_size
    fixed = sorted(set(np.linspace(0, vocab - 1, 60).astype(int).tolist()) | {0, 1, 2, 28})[:64]
    out = {
        "model": name,
        "generator": f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, float32",
        "new_tokens": NEW_TOKENS,
        "fixed_ids": fixed,
        "prompts": [],
    }
    for p in PROMPTS:
        if "messages" in p:
            ids = tok.apply_chat_template(p["messages"], add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
        else:
            ids = tok(p["text"])["input_ids"]
        ids = [int(i) for i in ids]
        # Greedy, EOS ignored: one token at a time with the KV cache, as a decoder runs.
        greedy = []
        with torch.no_grad():
            o = model(torch.tensor([ids]), use_cache=True)
            past = o.past_key_values
            nxt = int(o.logits[0, -1].argmax())
            for _ in range(NEW_TOKENS):
                greedy.append(nxt)
                o = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
                past = o.past_key_values
                nxt = int(o.logits[0, -1].argmax())
            full = model(torch.tensor([ids + greedy[:-1]])).logits[0].float().numpy()
        rows = []
        for r in full:
            top = np.argsort(-r, kind="stable")[:TOP_K]
            rows.append({"top": [[int(i), f32(r[i])] for i in top], "fixed": [f32(r[i]) for i in fixed]})
        # The smallest top-1/top-2 gap along the greedy path says how robust the greedy check is.
        gaps = [float(np.sort(full[len(ids) - 1 + k])[-1] - np.sort(full[len(ids) - 1 + k])[-2]) for k in range(NEW_TOKENS)]
        out["prompts"].append({"name": p["name"], "prompt_ids": ids, "greedy_ids": greedy,
                               "min_greedy_gap": min(gaps), "positions": rows})
        print(p["name"], len(ids), "prompt tokens; greedy:", repr(tok.decode(greedy)[:80]), "min gap %.4f" % min(gaps))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", args.out, os.path.getsize(args.out), "bytes")


if __name__ == "__main__":
    main()
