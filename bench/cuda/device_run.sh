#!/usr/bin/env bash
# Runs kite's CUDA tests and forward benchmark on a GPU machine, from the repository root.
# The binaries are built elsewhere with -DKITE_CUDA=ON (the device image lacks kite's host
# dependencies) and travel in build-cuda/ (docs/cuda.md, "Running on a GPU"):
#   cmake -S . -B build-cuda -DKITE_CUDA=ON && cmake --build build-cuda --target test_cuda bench_cuda_forward
# Results go to $OUT (default /tmp/kite-cuda-out): env.txt, test_cuda.txt, sanitizer.txt, bench.txt.
set -u
OUT=${OUT:-/tmp/kite-cuda-out}
BIN=${KITE_CUDA_BIN:-build-cuda}
mkdir -p "$OUT"
export KITE_SOURCE_DIR=$PWD
TEST=$BIN/tests/test_cuda
BENCH=$BIN/bench/cuda/bench_cuda_forward

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    ldd --version | head -1
    ldd "$TEST" | grep -E "not found|cublas|cudart" || true
} >"$OUT/env.txt" 2>&1

# cuBLAS/cudart: the toolkit's, or the pip wheels'; libstdc++: the build machine's if ours is older.
if ldd "$TEST" | grep -q "libcublas.*not found"; then
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cu13/lib") for p in nvidia.__path__))' 2>/dev/null); do
        [ -e "$d/libcublas.so.13" ] && export LD_LIBRARY_PATH=$d:${LD_LIBRARY_PATH:-} && break
    done
fi
if ! "$TEST" --gtest_list_tests >/dev/null 2>>"$OUT/env.txt"; then
    export LD_LIBRARY_PATH=$PWD/$BIN/carry-lib:${LD_LIBRARY_PATH:-}
    echo "using the carried libstdc++" >>"$OUT/env.txt"
fi
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >>"$OUT/env.txt"

timeout 300 "$TEST" --gtest_color=no >"$OUT/test_cuda.txt" 2>&1
echo "test_cuda exit $?" >>"$OUT/test_cuda.txt"

if command -v compute-sanitizer >/dev/null; then
    timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 "$TEST" --gtest_filter='CudaOps.*:HeadDims/*' \
        --gtest_color=no >"$OUT/sanitizer.txt" 2>&1
    echo "compute-sanitizer exit $?" >>"$OUT/sanitizer.txt"
fi

timeout 240 "$BENCH" bench/configs/llama-100m.json --prompt-len 128 --decode 64 --batch 1 --batch 8 --batch 32 \
    >"$OUT/bench.txt" 2>&1
echo "bench exit $?" >>"$OUT/bench.txt"
tail -n 50 "$OUT"/*.txt
