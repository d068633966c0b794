#!/bin/sh
# synth_write.sh: `inferd synth` write throughput for large presets, beside the
# raw write path of the same machine (dd of the same byte count from /dev/zero).
# Usage: bench/synth_write.sh [INFERD_BIN] [DIR]   (files are deleted afterwards)
set -eu
BIN=${1:-build/release/src/cli/inferd}
DIR=${2:-/tmp}
THREADS=${THREADS:-$(nproc)}
now() { date +%s.%N; }
for preset in llama3-1b llama3-8b; do
    out="$DIR/inferd-bench-$preset-q4_0.gguf"
    t0=$(now)
    "$BIN" synth --preset "$preset" --type Q4_0 --threads "$THREADS" -o "$out" 2>/dev/null
    t1=$(now)
    sync
    t2=$(now)
    bytes=$(stat -c %s "$out")
    rm -f "$out"
    sync
    z="$DIR/inferd-bench-zero"
    t3=$(now)
    dd if=/dev/zero of="$z" bs=4M count=$((bytes / 4194304)) status=none
    t4=$(now)
    sync
    t5=$(now)
    rm -f "$z"
    awk -v p="$preset" -v b="$bytes" -v s="$t0" -v e="$t1" -v y="$t2" -v d0="$t3" -v d1="$t4" -v d2="$t5" \
        -v th="$THREADS" 'BEGIN {
        mb = b / 1e6; syn = e - s; dd = d1 - d0;
        printf "%-10s Q4_0 %7.0f MB, %d threads: synth %.2f s = %.0f MB/s (+ sync %.2f s: %.0f MB/s to disk)\n",
               p, mb, th, syn, mb / syn, y - e, mb / (y - s);
        printf "%-10s      dd /dev/zero same size: %.2f s = %.0f MB/s (+ sync %.2f s: %.0f MB/s); synth/dd = %.2f\n",
               "", dd, mb / dd, d2 - d1, mb / (d2 - d0), dd / syn }'
done
