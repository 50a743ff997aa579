#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest: C++ suites and Python end-to-end suites).
# Needs ../shared beside the repository (reference checkpoints, tokenizers, templates).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/fetch_default_model.sh >/dev/null
bash scripts/build.sh
cd build
ctest --output-on-failure -j "${JOBS:-$(nproc)}" ${CTEST_ARGS:-}
