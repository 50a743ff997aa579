#!/usr/bin/env python3
"""Reference ids for kite's GGUF tokenizer test, made with Hugging Face `tokenizers` and `gguf`.

Rebuilds a byte-level BPE tokenizer of the StarCoder / SmolLM kind (tokenizer.ggml.pre "smollm",
"starcoder", "refact": the pre-tokenizer their tokenizer.json files declare, individual digits then
GPT-2's byte-level split) from a GGUF file's vocabulary and merges, through the `tokenizers` API
rather than through kite's converter, and prints {"cases": [{"text", "ids", "ids_with_special",
"decoded"}]} as JSON for the strings given (a JSON list in a file). Usage:
    gguf_tokenizer_reference.py MODEL.gguf STRINGS.json > expected.json
"""
import json
import sys

import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

SUPPORTED_PRE = {"smollm", "starcoder", "refact"}


def field_str(reader, key):
    f = reader.fields[key]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def field_strs(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def field_ints(reader, key):
    f = reader.fields[key]
    return [int(f.parts[i][0]) for i in f.data]


def main():
    model_path, strings_path = sys.argv[1], sys.argv[2]
    r = gguf.GGUFReader(model_path)
    if field_str(r, "tokenizer.ggml.model") != "gpt2":
        sys.exit("reference: only byte-level BPE (tokenizer.ggml.model gpt2) files are handled")
    pre = field_str(r, "tokenizer.ggml.pre")
    if pre not in SUPPORTED_PRE:
        sys.exit(f"reference: tokenizer.ggml.pre {pre!r} is not one of {sorted(SUPPORTED_PRE)}")
    tokens = field_strs(r, "tokenizer.ggml.tokens")
    types = field_ints(r, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ")) for m in field_strs(r, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}

    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    add_bos = False
    if "tokenizer.ggml.add_bos_token" in r.fields:
        add_bos = bool(r.fields["tokenizer.ggml.add_bos_token"].parts[-1][0])
    if add_bos:
        bos = tokens[field_ints(r, "tokenizer.ggml.bos_token_id")[0]]
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, vocab[bos])])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    # Control tokens (type 3) are the special added tokens, user-defined ones (4) the others.
    specials = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3]
    plain = [AddedToken(t, special=False, normalized=False) for t, ty in zip(tokens, types) if ty == 4]
    tok.add_special_tokens(specials)
    tok.add_tokens(plain)

    strings = json.load(open(strings_path, encoding="utf-8"))
    cases = []
    for s in strings:
        ids = tok.encode(s, add_special_tokens=False).ids
        ids_sp = tok.encode(s, add_special_tokens=True).ids
        cases.append({"text": s, "ids": ids, "ids_with_special": ids_sp,
                      "decoded": tok.decode(ids_sp, skip_special_tokens=False)})
    json.dump({"model": model_path, "cases": cases}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
