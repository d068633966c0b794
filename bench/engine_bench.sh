#!/bin/sh
# bench/engine_bench.sh: the engine benchmark (bench/engine_bench.c) on the two
# models of bench/RESULTS.md, "Engine: batching, prefix cache, KV dtypes".
#   bench/engine_bench.sh [BUILD_DIR]    (default build/release)
# Writes a synthetic llama3-1b Q4_0 to /tmp and deletes it afterwards.
# Not a test: it takes ~30 minutes on a busy 2-core machine.
set -eu
B=${1:-build/release}
M=${INFERD_MODELS:-$HOME/.cache/inferd/models}
EB="$B/tests/tools/engine_bench"
# 360 GFLOP/s: the cpu backend's n = 512 Q4_0/Q4_1 matmul per core-second
# (INFERD_BENCH_CPUTIME=1 cpu_kernels_bench 128 5 Q4_0 Q4_1).
COMMON="--backend cpu --threads 2 --peak-gflops 360"
cmake --build "$B" --target engine_bench inferd >/dev/null

S="$M/SmolLM2-135M-Instruct.Q4_1.gguf"
echo "== SmolLM2-135M Q4_1"
$EB -m "$S" $COMMON --parts a --reps 1
$EB -m "$S" $COMMON --parts bc --reps 2 --kv-seqs 4
$EB -m "$S" $COMMON --parts b --reps 1 --no-prefix-cache

L=/tmp/engine-bench-llama3-1b-q4_0.gguf
trap 'rm -f "$L"' EXIT
"$B/src/cli/inferd" synth --preset llama3-1b --type Q4_0 -o "$L" >/dev/null
echo "== synth llama3-1b Q4_0"
# 24 tokens per sequence: the steady state of each batch size in minutes, not hours.
$EB -m "$L" $COMMON --parts a --seqs 1,4,16,64 --gen 24 --reps 1
$EB -m "$L" $COMMON --parts bc --reps 2 --kv-seqs 1 --kv-gen 32
