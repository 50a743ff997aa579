"""Writes sampling_hf_reference.json: distributions from Hugging Face transformers' own logits
processors, for test_sampling_hf.cpp to compare kite's sampler with.

Per case: random logits, then logit bias (added to the raw logits), HF's
RepetitionPenaltyLogitsProcessor over prompt + output, OpenAI/vLLM presence and frequency
penalties over the output (HF has none; applied here by their formula), then HF's warpers in
generate()'s order: temperature, top-k, top-p, min-p; the softmax of the result is the expected
distribution. Cases whose top-p or min-p boundary lies within 1e-4 of a cut are redrawn, so float
rounding cannot flip a token in or out.

Run: python3 tests/engine/sampling_hf_reference.py  (needs torch and transformers)
"""
import json
import pathlib

import numpy as np
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList, MinPLogitsWarper, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
    TopKLogitsWarper, TopPLogitsWarper)

VOCAB = 48
CASES = [
    dict(temperature=1.0),
    dict(temperature=0.7, top_k=5),
    dict(temperature=1.3, top_p=0.8),
    dict(temperature=1.0, min_p=0.1),
    dict(temperature=0.5, top_k=10, top_p=0.9, min_p=0.05),
    dict(temperature=2.0, top_k=20, top_p=0.6),
    dict(temperature=1.0, repetition_penalty=1.3),
    dict(temperature=0.8, repetition_penalty=0.7, top_p=0.95),
    dict(temperature=1.0, presence_penalty=0.5, frequency_penalty=0.3),
    dict(temperature=1.0, presence_penalty=-1.0, frequency_penalty=1.5, top_k=8),
    dict(temperature=0.9, repetition_penalty=1.2, presence_penalty=0.4, frequency_penalty=0.2,
         logit_bias=[[3, 2.5], [7, -4.0]], top_k=12, top_p=0.85, min_p=0.02),
    dict(temperature=1.1, logit_bias=[[0, 6.0], [1, -100.0]], top_p=0.7),
    # Untruncated, so that the order of bias, repetition and presence/frequency shows everywhere.
    dict(temperature=1.0, repetition_penalty=1.5, presence_penalty=0.8, frequency_penalty=0.5,
         logit_bias=[[2, 3.0], [5, -2.0], [9, 1.5]]),
]


def hf_distribution(logits, case, prompt, output):
    scores = torch.tensor(logits, dtype=torch.float32)[None, :].clone()
    for token, bias in case.get("logit_bias", []):
        scores[0, token] += bias
    ids = torch.tensor([prompt + output], dtype=torch.long)
    if case.get("repetition_penalty", 1.0) != 1.0:
        scores = RepetitionPenaltyLogitsProcessor(case["repetition_penalty"])(ids, scores)
    counts = torch.bincount(torch.tensor(output, dtype=torch.long), minlength=VOCAB).float()[None, :]
    scores = scores - case.get("frequency_penalty", 0.0) * counts
    scores = scores - case.get("presence_penalty", 0.0) * (counts > 0).float()
    warpers = LogitsProcessorList()
    if case["temperature"] != 1.0:
        warpers.append(TemperatureLogitsWarper(case["temperature"]))
    if case.get("top_k", 0) > 0:
        warpers.append(TopKLogitsWarper(case["top_k"]))
    if case.get("top_p", 1.0) < 1.0:
        warpers.append(TopPLogitsWarper(case["top_p"]))
    if case.get("min_p", 0.0) > 0.0:
        warpers.append(MinPLogitsWarper(case["min_p"]))
    scores = warpers(ids, scores)
    return torch.softmax(scores, dim=-1)[0].double().numpy(), scores[0]


def boundaries_are_clear(scores_before_warp_probs, case):
    """True when no cumulative mass sits within 1e-4 of top_p and no ratio within 1e-4 of min_p."""
    p = np.sort(scores_before_warp_probs)[::-1]
    if case.get("top_k", 0) > 0:
        p = p[: case["top_k"]] / p[: case["top_k"]].sum()
    if case.get("top_p", 1.0) < 1.0 and np.min(np.abs(np.cumsum(p) - case["top_p"])) < 1e-4:
        return False
    if case.get("min_p", 0.0) > 0.0 and np.min(np.abs(p / p[0] - case["min_p"])) < 1e-4:
        return False
    return True


def main():
    rng = np.random.default_rng(20261122)
    out = []
    for case in CASES:
        while True:
            logits = (rng.standard_normal(VOCAB) * 2.0).astype(np.float32)
            prompt = rng.integers(0, VOCAB, 10).tolist() + [2, 5]  # biased tokens in context too
            output = rng.integers(0, VOCAB, 8).tolist() + [9, 9]
            probs, _ = hf_distribution(logits, case, prompt, output)
            # The distribution after penalties and temperature only, to check the cuts' margins.
            plain = dict(case, top_k=0, top_p=1.0, min_p=0.0)
            before, _ = hf_distribution(logits, plain, prompt, output)
            if boundaries_are_clear(before, case):
                break
        out.append(dict(params=case, logits=[float(x) for x in logits], prompt_ids=prompt,
                        output_ids=output, probs=[float(x) for x in probs]))
    path = pathlib.Path(__file__).with_name("sampling_hf_reference.json")
    path.write_text(json.dumps(dict(vocab=VOCAB, cases=out), indent=1) + "\n")
    print(f"wrote {path} ({len(out)} cases)")


if __name__ == "__main__":
    main()
