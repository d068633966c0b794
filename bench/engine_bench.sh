#!/bin/sh
# bench/engine_bench.sh: the engine benchmark (bench/engine_bench.c) on the two
# models of bench/RESULTS.md, "Engine: batching, prefix cache, KV dtypes".
#   bench/engine_bench.sh [BUILD_DIR]    (default build/release)
# Writes a synthetic llama3-1b Q4_0 to /tmp and deletes it afterwards.
# Not a test: it takes several minutes, and its figures depend on the machine.
set -eu
B=${1:-build/release}
M=${INFERD_MODELS:-$HOME/.cache/inferd/models}
EB="$B/tests/tools/engine_bench"
# 220 GFLOP/s: the cpu backend's best n = 512 matmul, 2 threads (cpu_kernels_bench).
COMMON="--backend cpu --threads 2 --peak-gflops 220"
cmake --build "$B" --target engine_bench inferd >/dev/null

echo "== SmolLM2-135M Q4_1"
$EB -m "$M/SmolLM2-135M-Instruct.Q4_1.gguf" $COMMON --parts abc --kv-seqs 4
$EB -m "$M/SmolLM2-135M-Instruct.Q4_1.gguf" $COMMON --parts b --reps 1 --no-prefix-cache

L=/tmp/engine-bench-llama3-1b-q4_0.gguf
"$B/src/cli/inferd" synth --preset llama3-1b --type Q4_0 -o "$L" >/dev/null
trap 'rm -f "$L"' EXIT
echo "== synth llama3-1b Q4_0"
# Fewer tokens per sequence at 64 sequences keeps the run within minutes.
$EB -m "$L" $COMMON --parts a --seqs 1,4,16 --reps 1
$EB -m "$L" $COMMON --parts a --seqs 64 --gen 64 --reps 1
$EB -m "$L" $COMMON --parts bc --reps 1 --kv-seqs 1
