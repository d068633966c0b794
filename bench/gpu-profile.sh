#!/usr/bin/env bash
# gpu-profile.sh OUTDIR: where a decode token's time goes on the GPU machine, at
# the card's own clocks and with warm caches (gpu-check.sh's Nsight step flushes
# caches and locks clocks, which inflates every small kernel): Nsight Compute's
# duration of each kernel of a few decode tokens (graphs off, so that each kernel
# is a launch it sees; one pass, no replay), summed per kernel, beside the
# measured decode rate with graphs off and on. The gap between the summed
# kernel time and the time per token is what launches and dependencies cost.
# GPU_PROFILE_MODEL: preset:type (default llama3-8b:Q4_0), made with
# `inferd synth` in GPU_CHECK_WORK when missing. Results: OUTDIR/profile.log.
set -u
OUTDIR=${1:?usage: bench/gpu-profile.sh OUTDIR}
mkdir -p "$OUTDIR"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${GPU_CHECK_WORK:-/tmp/inferd-gpu-check}
mkdir -p "$WORK"
. "$ROOT/bench/gpu-env.sh"
SPEC=${GPU_PROFILE_MODEL:-llama3-8b:Q4_0}
F="$WORK/${SPEC%%:*}-${SPEC##*:}.gguf"
LOG="$OUTDIR/profile.log"
: > "$LOG"
[ -s "$F" ] || "$BIN/inferd" synth --preset "${SPEC%%:*}" --type "${SPEC##*:}" -o "$F" >> "$LOG" 2>&1
for cfg in "INFERD_CUDA_GRAPHS=1" "INFERD_CUDA_GRAPHS=0" "INFERD_CUDA_GRAPHS=1 INFERD_CUDA_PDL=0"; do
    echo "### $SPEC tg64, $cfg" >> "$LOG"
    env $cfg timeout 120 "$BIN/inferd" bench-model -m "$F" --backend cuda -p 0 -n 64 -r 2 >> "$LOG" 2>&1
done
# -n 4 after bench-model's warm-up: skip the warm-up's launches, take ~3 tokens
timeout 240 ncu --cache-control none --clock-control none --launch-skip "${GPU_PROFILE_SKIP:-800}" \
    --launch-count "${GPU_PROFILE_COUNT:-900}" --csv --metrics gpu__time_duration.sum \
    env INFERD_CUDA_GRAPHS=0 "$BIN/inferd" bench-model -m "$F" --backend cuda -p 0 -n 4 -r 1 \
    > "$WORK/profile-ncu.csv" 2>&1
echo "### ncu: kernels of the window (graphs off; tokens in it = rms_norm launches / (2 x layers + 1))" >> "$LOG"
python3 "$ROOT/bench/ncu_summary.py" "$WORK/profile-ncu.csv" >> "$LOG" 2>&1
cat "$LOG"
