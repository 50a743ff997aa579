#!/usr/bin/env bash
# Configures and builds kite in ./build (Release, ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
# The Python that scripts/setup.sh installed packages into runs the Python test suites.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$(command -v "${PYTHON:-python3}")" \
  ${KITE_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" "$@"
