#!/usr/bin/env bash
# gpu-tune.sh OUTDIR CONFIG...: batched decode in process (engine_bench,
# 128-token prompts, 128 tokens generated) under each CONFIG, a list of
# environment assignments separated by commas ("-" for none), e.g.
#   bench/gpu-tune.sh $OUT - INFERD_CUDA_MMVQ_RW=2 INFERD_CUDA_MMQ_MIN_N=3
# on the models of GPU_CHECK_BATCH_MODELS (default 8B Q4_0 and Q8_0, made with
# `inferd synth` in GPU_CHECK_WORK when missing) at GPU_CHECK_SEQS (default
# 1,2,3,4,6,8,16). For choosing thresholds and tile shapes side by side on one
# card; results in OUTDIR/tune.log, one table per model and config.
set -u
OUTDIR=${1:?usage: bench/gpu-tune.sh OUTDIR CONFIG...}
shift
mkdir -p "$OUTDIR"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${GPU_CHECK_WORK:-/tmp/inferd-gpu-check}
mkdir -p "$WORK"
. "$ROOT/bench/gpu-env.sh"
LOG="$OUTDIR/tune.log"
: > "$LOG"
for spec in ${GPU_CHECK_BATCH_MODELS:-llama3-8b:Q4_0 llama3-8b:Q8_0}; do
    f="$WORK/${spec%%:*}-${spec##*:}.gguf"
    [ -s "$f" ] || "$BIN/inferd" synth --preset "${spec%%:*}" --type "${spec##*:}" -o "$f" >> "$LOG" 2>&1
    for cfg in "$@"; do
        echo "### $spec  $cfg" >> "$LOG"
        envs=()
        [ "$cfg" = - ] || IFS=, read -r -a envs <<< "$cfg"
        env "${envs[@]}" timeout "${GPU_TUNE_S:-120}" "$BIN/engine_bench" -m "$f" --backend cuda \
            --parts a --seqs "${GPU_CHECK_SEQS:-1,2,3,4,6,8,16}" --prompt-len 128 --gen 128 \
            --reps 1 --bw-gbs 3100 2>&1 | grep -E '^\| [0-9]' | cut -d'|' -f2,4,5,6 >> "$LOG"
    done
done
cat "$LOG"
