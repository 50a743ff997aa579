#!/usr/bin/env bash
# Sets up, builds and serves kite's default model (SmolLM2-135M-Instruct, Q4_1 GGUF) on port 8088
# with the rtp-llm native and OpenAI APIs. Extra arguments go to `kite serve` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=$(bash scripts/fetch_default_model.sh)
bash scripts/build.sh --target kite
exec ./build/kite serve --model "$MODEL" --served-model-name SmolLM2-135M-Instruct "$@"
