#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest: C++ suites and Python end-to-end suites).
# Needs ../shared beside the repository (reference checkpoints, tokenizers, templates).
# Where nvcc is installed (the development machine has it, with no GPU), the CUDA backend is also
# compiled (build-cuda, sm_90) and its tests run, skipping without a GPU: a CUDA compile error
# cannot land. KITE_SKIP_CUDA_BUILD=1 skips that step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/fetch_default_model.sh >/dev/null
bash scripts/build.sh
(cd build && ctest --output-on-failure -j "${JOBS:-$(nproc)}" ${CTEST_ARGS:-})
if [ "${KITE_SKIP_CUDA_BUILD:-0}" != 1 ] && command -v nvcc >/dev/null 2>&1; then
  echo "test.sh: compiling the CUDA backend (build-cuda, -DKITE_CUDA=ON, sm_90)"
  BUILD_DIR=build-cuda KITE_CMAKE_ARGS="-DKITE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 ${KITE_CMAKE_ARGS:-}" \
    bash scripts/build.sh --target kite test_cuda
  build-cuda/tests/test_cuda --gtest_brief=1
fi
