#!/usr/bin/env bash
# gpu-peer.sh OUTDIR: llama.cpp's CUDA build, the peer, measured on the very
# files bench/gpu-check.sh made and measured (in GPU_CHECK_WORK), on the same
# card, right after it (docs/cuda.md):
#   llama-bench -p 512,2048 -n 128 on each model (flash attention as its default,
#   auto = on for CUDA), and llama-batched-bench with 128-token prompts and 128
#   generated tokens at 1, 4, 16, 64 sequences on GPU_CHECK_BATCH_MODELS
#   (GPU_CHECK_BATCH=0 skips it).
# gpu-check.sh starts the peer's build in the background (from the source pack
# .peer/llama.cpp-*-src.tar.gz, bench/peer/build-llama-cpp.sh --pack); this
# script waits for it (GPU_PEER_WAIT_S, default 420 s) and writes
# peer-bench.md, peer-batched.log and peer-build.log in OUTDIR.
set -u
OUTDIR=${1:?usage: bench/gpu-peer.sh OUTDIR}
mkdir -p "$OUTDIR"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${GPU_CHECK_WORK:-/tmp/inferd-gpu-check}
PB=$ROOT/.peer/build-cuda/bin
MODELS=${GPU_CHECK_MODELS:-"llama3-1b:Q4_0 llama3-8b:Q4_0 llama3-8b:Q8_0 llama3-8b:F16 llama3-8b:Q4_K"}

t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt "${GPU_PEER_WAIT_S:-420}" ]; do
    [ -x "$PB/llama-bench" ] && [ -x "$PB/llama-batched-bench" ] && break
    pgrep -f build-llama-cpp > /dev/null || break
    sleep 2
done
tail -5 "$WORK/peer-build.log" > "$OUTDIR/peer-build.log" 2>&1
echo "waited $(( $(date +%s) - t0 )) s for the build" >> "$OUTDIR/peer-build.log"
if [ ! -x "$PB/llama-bench" ]; then
    echo "peer: llama-bench not built (see peer-build.log)" | tee -a "$OUTDIR/peer-build.log"
    exit 1
fi

: > "$OUTDIR/peer-bench.md"
for spec in $MODELS; do
    f="$WORK/${spec%%:*}-${spec##*:}.gguf"
    [ -s "$f" ] || continue
    echo "### $spec" >> "$OUTDIR/peer-bench.md"
    timeout "${GPU_PEER_BENCH_S:-150}" "$PB/llama-bench" -m "$f" -ngl 99 -p 512,2048 -n 128 \
        -r "${GPU_CHECK_REPS:-3}" -o md >> "$OUTDIR/peer-bench.md" 2>> "$OUTDIR/peer-build.log"
done
: > "$OUTDIR/peer-batched.log"
BATCH_MODELS=${GPU_CHECK_BATCH_MODELS:-llama3-8b:Q4_0 llama3-8b:Q8_0}
[ "${GPU_CHECK_BATCH:-1}" = 1 ] || BATCH_MODELS=
for spec in $BATCH_MODELS; do
    f="$WORK/${spec%%:*}-${spec##*:}.gguf"
    [ -s "$f" ] && [ -x "$PB/llama-batched-bench" ] || continue
    echo "### $spec" >> "$OUTDIR/peer-batched.log"
    timeout "${GPU_PEER_BENCH_S:-150}" "$PB/llama-batched-bench" -m "$f" -ngl 99 -c 17408 \
        -b 2048 -ub 512 -npp 128 -ntg 128 -npl 1,4,16,64 >> "$OUTDIR/peer-batched.log" 2>&1
done
cat "$OUTDIR/peer-bench.md"
grep -E '^\|' "$OUTDIR/peer-batched.log"
