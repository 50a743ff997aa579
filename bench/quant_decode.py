"""CPU decode tokens/s of one model under kite's weight formats, side by side in one run: f32, GGUF
blocks (--keep-quantized, .gguf only), INT8 per channel, INT4 g128 (symmetric and with zero points),
and the 8-bit KV caches. Rate = n / (t(1 + n tokens) - t(1 token)) over whole-process runs, so
loading and prefill cancel out (as bench/gguf_vs_llamacpp.py). Best of --repeats.

  python3 bench/quant_decode.py --kite build/kite --model models/SmolLM2-135M-Instruct.Q4_1.gguf
  python3 bench/quant_decode.py --kite build/kite --model bench/configs/smollm2-135m.json --dummy
"""
import argparse
import json
import subprocess
import sys
import time

PROMPT_IDS = list(range(100, 132))

MODES = [
    ("f32", []),
    ("gguf blocks", ["--keep-quantized"]),
    ("int8", ["--quantization", "int8"]),
    ("int4 g128", ["--quantization", "int4"]),
    ("int4 g128 zp", ["--quantization", "int4", "--quant-zero-point"]),
    ("f32, kv int8", ["--kv-cache-dtype", "int8"]),
    ("f32, kv fp8", ["--kv-cache-dtype", "fp8"]),
]


def run(kite, model, threads, n, extra):
    cmd = [kite, "generate", "--model", model, "--prompt-ids", ",".join(map(str, PROMPT_IDS)), "--max-new-tokens",
           str(n), "--ignore-eos", "--temperature", "0", "--json", "--threads", str(threads)] + extra
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"kite failed: {' '.join(cmd)}\n{r.stderr.strip()}")
    assert len(json.loads(r.stdout.strip().splitlines()[-1])["output_ids"]) == n
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kite", default="build/kite")
    ap.add_argument("--model", required=True)
    ap.add_argument("--dummy", action="store_true", help="--dummy-weights (model is a config.json)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    base = ["--dummy-weights"] if args.dummy else []
    modes = [m for m in MODES if m[0] != "gguf blocks" or args.model.endswith(".gguf")]
    print("| threads | " + " | ".join(m[0] for m in modes) + " |")
    print("|---" * (len(modes) + 1) + "|")
    for threads in map(int, args.threads.split(",")):
        cells, f32 = [], None
        for name, extra in modes:
            best = 0.0
            for _ in range(args.repeats):
                t1 = run(args.kite, args.model, threads, 1, base + extra)
                t2 = run(args.kite, args.model, threads, 1 + args.new_tokens, base + extra)
                best = max(best, args.new_tokens / max(t2 - t1, 1e-9))
            f32 = f32 or best
            cells.append(f"{best:.1f} ({best / f32:.2f}x)")
        print(f"| {threads} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
