#!/usr/bin/env python3
"""Differential check of kite's tokenizer against HF `tokenizers` on random strings and on
tokenizer.json variants that switch on options the shared families do not use.

usage: hf_diff.py KITE_BINARY [--n N] [--seed S] [--only NAME]
Not part of ctest (it needs time and the Python package); run by hand while developing.
"""
import argparse, copy, json, os, random, subprocess, sys, tempfile

from tokenizers import Tokenizer

SHARED = os.environ.get("KITE_SHARED_DIR", os.path.join(os.path.dirname(__file__), "../../../shared"))
TOK = os.path.join(SHARED, "tokenizers")

POOLS = [
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " " * 8, "\t\n\r\v\f",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "éèêëàâäôöûüçñÅØæœß", "ΑΒΓαβγδεζηθ", "абвгдежзийЖЩЯ",
    "中文字符测试你好世界", "ひらがなカタカナ", "한국어텍스트", "مرحبا بالعالم", "שלום", "नमस्ते", "สวัสดี",
    "😀😁🤖👍🏽👨‍👩‍👧🇫🇷1️⃣", "\u0301\u0308\u0327\u200b\u200d\u00a0\u3000\u2028\ufeff", "①²½ﬁＡＢＣ１２３",
    "▁Ġ Ċ##<0x0A>", "İıŉǅ", "\U0001d400\U0001d7d8",
    "Ⅻⅰ²³¹\u200c\u00ad\u2060\ue000\U000f0000\u2000\u2009\u205f\u1680\u0085\u180e\u00b7\u0387",
    "ǅᾼΣςσſK\u0130\u1e9e", "'s'S'T're'VE'm'LL'd", "\x00\x01\x1b\x7f\u00a0\ufffd\ufeff",
]
SPECIALS = ["<s>", "</s>", "<unk>", "<|endoftext|>", "[CLS]", "[SEP]", "<extra_id_0>", "<|im_start|>", "<think>",
            "<tool_call>", ">>TITLE<<", "<|begin_of_text|>", "<mask>", "[MASK]", "<special>", "tok"]


def rand_text(rng):
    out = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.08:
            out.append(rng.choice(SPECIALS))
        elif r < 0.2:
            out.append(" ")
        else:
            pool = rng.choice(POOLS)
            out.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
    return "".join(out)


def load(name):
    with open(os.path.join(TOK, name, "tokenizer.json"), encoding="utf-8") as f:
        return json.load(f)


def variants():
    """(name, tokenizer.json dict) pairs."""
    out = []
    for fam in ["llama3", "qwen2.5", "llama2", "gpt2", "bert", "t5", "deepseek-v3", "falcon"]:
        out.append((fam, load(fam)))
    ll = load("llama2")
    for scheme in ["always", "first", "never"]:
        for split in [True, False]:
            v = copy.deepcopy(ll)
            v["normalizer"] = None
            v["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split}
            v["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split}
            out.append((f"llama2-metaspace-{scheme}-{split}", v))
    v = copy.deepcopy(ll)
    v["added_tokens"].append({"id": 32000, "content": "<special>", "single_word": False, "lstrip": True,
                              "rstrip": True, "normalized": False, "special": True})
    v["added_tokens"].append({"id": 32001, "content": "tok", "single_word": True, "lstrip": False,
                              "rstrip": False, "normalized": True, "special": False})
    out.append(("llama2-added-options", v))
    g = load("gpt2")
    v = copy.deepcopy(g)
    v["pre_tokenizer"]["add_prefix_space"] = True
    out.append(("gpt2-prefix-space", v))
    v = copy.deepcopy(g)
    v["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"},
                                                            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
                                                            {"type": "Strip", "strip_left": True, "strip_right": True}]}
    v["added_tokens"].append({"id": 50257, "content": "<mask>", "single_word": False, "lstrip": True,
                              "rstrip": False, "normalized": True, "special": True})
    v["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 50256], "cls": ["<s>", 50256],
                           "trim_offsets": True, "add_prefix_space": False}
    out.append(("gpt2-nfkc-lower-strip", v))
    for beh in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        for inv in [False, True]:
            v = copy.deepcopy(g)
            v["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": "\\s+|[0-9]"}, "behavior": beh, "invert": inv},
                {"type": "Split", "pattern": {"String": "a"}, "behavior": beh, "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
            out.append((f"gpt2-split-{beh}-{inv}", v))
    for pre in [{"type": "Whitespace"}, {"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": True},
                {"type": "Punctuation", "behavior": "MergedWithNext"}, {"type": "CharDelimiterSplit", "delimiter": "a"},
                {"type": "BertPreTokenizer"}]:
        v = copy.deepcopy(g)
        v["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [pre, {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                                                                          "use_regex": False}]}
        out.append(("gpt2-" + pre["type"] + "-" + str(pre.get("behavior", pre.get("individual_digits", ""))), v))
    b = load("bert")
    for norm in [{"type": "NFD"}, {"type": "NFKD"}, {"type": "StripAccents"},
                 {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False, "strip_accents": True,
                  "lowercase": False},
                 {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"}]}]:
        v = copy.deepcopy(b)
        v["normalizer"] = norm
        out.append(("bert-" + json.dumps(norm)[:40], v))
    v = copy.deepcopy(b)
    v["post_processor"] = {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}
    v["decoder"] = {"type": "CTC", "pad_token": "[PAD]", "word_delimiter_token": "|", "cleanup": True}
    out.append(("bert-ctc", v))
    t = load("t5")
    v = copy.deepcopy(t)
    v["model"]["byte_fallback"] = True
    out.append(("t5-bytefallback", v))
    v = copy.deepcopy(t)
    v["normalizer"] = None
    v["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}
    v["decoder"] = {"type": "Sequence", "decoders": [{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"},
                                                     {"type": "Strip", "content": " ", "start": 0, "stop": 2}]}
    out.append(("t5-first-strip", v))
    out.extend(trained_variants())
    return out


def trained_variants():
    """Small models trained here with HF's trainers: options no shared family uses."""
    from tokenizers import models, trainers, pre_tokenizers, decoders, normalizers
    with open(os.path.join(TOK, "gpt2", "vectors.shared.json"), encoding="utf-8") as f:
        corpus = [c["text"] for c in json.load(f)["cases"]] * 3
    out = []
    specs = [
        ("bpe-prefix-suffix", models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"),
         trainers.BpeTrainer(vocab_size=600, show_progress=False, special_tokens=["[UNK]", "<special>"], continuing_subword_prefix="##",
                             end_of_word_suffix="</w>"), decoders.BPEDecoder(suffix="</w>")),
        ("bpe-unk-nofuse", models.BPE(unk_token="[UNK]", fuse_unk=False),
         trainers.BpeTrainer(vocab_size=300, show_progress=False, special_tokens=["[UNK]"], limit_alphabet=40), None),
        ("bpe-unk-fuse", models.BPE(unk_token="[UNK]", fuse_unk=True),
         trainers.BpeTrainer(vocab_size=300, show_progress=False, special_tokens=["[UNK]"], limit_alphabet=40), None),
        ("wordpiece-trained", models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12),
         trainers.WordPieceTrainer(vocab_size=500, show_progress=False, special_tokens=["[UNK]"]), decoders.WordPiece()),
        ("wordlevel-trained", models.WordLevel(unk_token="[UNK]"),
         trainers.WordLevelTrainer(vocab_size=400, show_progress=False, special_tokens=["[UNK]"]), None),
        ("unigram-trained", models.Unigram(),
         trainers.UnigramTrainer(vocab_size=3000, special_tokens=["<unk>"], unk_token="<unk>", show_progress=False), decoders.Metaspace()),
    ]
    for name, model, trainer, dec in specs:
        t = Tokenizer(model)
        t.normalizer = normalizers.NFKC()
        if name.startswith("unigram"):
            t.pre_tokenizer = pre_tokenizers.Metaspace()
        else:
            t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
        if dec is not None:
            t.decoder = dec
        t.train_from_iterator(corpus, trainer)
        tj = json.loads(t.to_str())
        out.append((name, tj))
        if name == "bpe-unk-fuse":
            v = copy.deepcopy(tj)
            v["model"]["ignore_merges"] = True
            v["model"]["dropout"] = 0.5  # ignored by both at inference? HF applies it: keep only to test loading
            v["model"]["dropout"] = None
            out.append(("bpe-ignore-merges", v))
    return out


def run_kite(kite, path, lines, cmd):
    p = subprocess.run([kite, cmd, "--model", path, "--jsonl"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr
    return [json.loads(x) for x in p.stdout.split("\n") if x], ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kite")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    total_bad = 0
    with tempfile.TemporaryDirectory() as td:
        for name, tj in variants():
            if a.only and a.only not in name:
                continue
            path = os.path.join(td, "t.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(tj, f, ensure_ascii=False)
            hf = Tokenizer.from_file(path)
            rng = random.Random(a.seed)
            texts = [rand_text(rng) for _ in range(a.n)]
            lines = [json.dumps({"text": s, "add_special_tokens": bool(i % 2)}) for i, s in enumerate(texts)]
            got, err = run_kite(a.kite, path, lines, "tokenize")
            if got is None:
                print(f"{name}: kite failed: {err.strip()}")
                total_bad += 1
                continue
            bad = 0
            dec_lines, want_dec = [], []
            for i, s in enumerate(texts):
                want = hf.encode(s, add_special_tokens=bool(i % 2)).ids
                if got[i].get("ids") != want:
                    bad += 1
                    if bad <= 3:
                        print(f"{name}: encode {s!r}\n  kite {got[i]}\n  hf   {want}")
                skip = bool(i % 3 == 0)
                dec_lines.append(json.dumps({"ids": want, "skip_special_tokens": skip}))
                try:
                    want_dec.append(hf.decode(want, skip_special_tokens=skip))
                except BaseException:  # HF panics on some inputs (Strip with stop > len)
                    want_dec.append(None)
            got_dec, err = run_kite(a.kite, path, dec_lines, "detokenize")
            for i, w in enumerate(want_dec):
                if w is not None and got_dec[i].get("text") != w:
                    bad += 1
                    if bad <= 6:
                        print(f"{name}: decode {json.loads(dec_lines[i])}\n  kite {got_dec[i]!r}\n  hf   {w!r}")
            print(f"{name}: {bad} differences in {2 * len(texts)} checks")
            total_bad += bad
    sys.exit(1 if total_bad else 0)


if __name__ == "__main__":
    main()
