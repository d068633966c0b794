#!/bin/sh
# synth_write.sh: `inferd synth` write throughput for the large presets, beside the
# raw write path of the same machine: dd of the same byte count from /dev/zero
# (4 MiB blocks), both timed to the page cache and then through `sync` to disk.
# Each is run REPEAT times (default 5), alternating; best and median are printed,
# since other work on a shared machine makes single runs noisy.
# Usage: bench/synth_write.sh [INFERD_BIN] [DIR]   (files are deleted afterwards)
# Where inferd cannot be built (no server libraries), a stand-alone binary will do:
#   gcc -std=c17 -O2 -D_GNU_SOURCE -Isrc bench/synth_main.c src/cli/cmd_synth.c \
#       src/model/arch.c src/model/hparams.c src/model/synth.c src/model/synth_gen.c \
#       src/model/synth_par.c src/model/vocab_synth.c src/model/quantize.c \
#       src/gguf/*.c src/quant/*.c src/core/*.c -lm -lpthread -o /tmp/synth_main
#   bench/synth_write.sh /tmp/synth_main /tmp
set -eu
BIN=${1:-build/release/src/cli/inferd}
DIR=${2:-/tmp}
THREADS=${THREADS:-$(nproc)}
REPEAT=${REPEAT:-5}
now() { date +%s.%N; }
stats() { sort -g | awk '{ a[NR] = $1 } END { printf "%.2f %.2f", a[1], a[int((NR + 1) / 2)] }'; }
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $THREADS threads"
for preset in llama3-1b llama3-8b; do
    out="$DIR/inferd-bench-$preset-q4_0.gguf"
    z="$DIR/inferd-bench-zero"
    : > /tmp/synth_bench_s; : > /tmp/synth_bench_ss; : > /tmp/synth_bench_d; : > /tmp/synth_bench_ds
    i=0
    while [ $i -lt "$REPEAT" ]; do
        sync
        t0=$(now)
        "$BIN" synth --preset "$preset" --type Q4_0 --threads "$THREADS" -o "$out" 2>/dev/null
        t1=$(now); sync; t2=$(now)
        bytes=$(stat -c %s "$out")
        rm -f "$out"; sync
        t3=$(now)
        dd if=/dev/zero of="$z" bs=4M count=$((bytes / 4194304)) status=none
        t4=$(now); sync; t5=$(now)
        rm -f "$z"
        echo "$t1 $t0" | awk '{ print $1 - $2 }' >> /tmp/synth_bench_s
        echo "$t2 $t0" | awk '{ print $1 - $2 }' >> /tmp/synth_bench_ss
        echo "$t4 $t3" | awk '{ print $1 - $2 }' >> /tmp/synth_bench_d
        echo "$t5 $t3" | awk '{ print $1 - $2 }' >> /tmp/synth_bench_ds
        i=$((i + 1))
    done
    mb=$((bytes / 1000000))
    set -- $(stats < /tmp/synth_bench_s) $(stats < /tmp/synth_bench_ss) \
           $(stats < /tmp/synth_bench_d) $(stats < /tmp/synth_bench_ds)
    awk -v p="$preset" -v mb="$mb" -v s1="$1" -v s2="$2" -v ss1="$3" -v ss2="$4" \
        -v d1="$5" -v d2="$6" -v ds1="$7" -v ds2="$8" 'BEGIN {
        printf "%-9s Q4_0 %5d MB  synth: best %.2f s = %4.0f MB/s, median %4.0f MB/s; with sync: best %4.0f MB/s\n",
               p, mb, s1, mb / s1, mb / s2, mb / ss1;
        printf "%-9s           dd:    best %.2f s = %4.0f MB/s, median %4.0f MB/s; with sync: best %4.0f MB/s\n",
               "", d1, mb / d1, mb / d2, mb / ds1;
        printf "%-9s           synth / dd (best, page cache) = %.2f; with sync = %.2f\n", "", d1 / s1, ds1 / ss1 }'
done
rm -f /tmp/synth_bench_s /tmp/synth_bench_ss /tmp/synth_bench_d /tmp/synth_bench_ds
