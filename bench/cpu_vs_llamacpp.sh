#!/usr/bin/env bash
# cpu_vs_llamacpp.sh: inferd's cpu backend beside llama.cpp's llama-bench on the
# same GGUF files and thread count (issue 4's performance section).
#
#   bench/cpu_vs_llamacpp.sh [-t THREADS] [-r REPS] [-p N] [-n N] [--cputime] FILE...
#
# Default mode: wall-clock tok/s of prompt processing (-p, default 512 tokens in
# one batch) and generation (-n, default 128 tokens one by one), mean of REPS
# (default 3), as both tools report them, and the ratio inferd / llama.cpp.
# Only meaningful on a quiet machine: on a shared one both tools wait for the
# CPU and spinning workers make that worse (llama.cpp's more than ours).
#
# --cputime: for shared machines. Runs each tool with REPS and with 1 repetition
# and divides the difference in user+system CPU seconds by REPS - 1: the CPU
# cost of one prompt-processing or generation run, whatever the contention
# (load, warm-up and the first repetition cancel out). Reports tokens per
# CPU-second, single-threaded (with more threads CPU time counts spinning too).
#
# env: PEER_BIN (default .peer/build-cpu/bin), INFERD (default build/cpu/src/cli/inferd)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
peer=${PEER_BIN:-$repo/.peer/build-cpu/bin}
inferd=${INFERD:-$repo/build/cpu/src/cli/inferd}
threads=2 reps=3 np=512 ng=128 cputime=0
files=()
while [ $# -gt 0 ]; do
    case $1 in
    -t) threads=$2; shift 2 ;;
    -r) reps=$2; shift 2 ;;
    -p) np=$2; shift 2 ;;
    -n) ng=$2; shift 2 ;;
    --cputime) cputime=1; threads=1; shift ;;
    *) files+=("$1"); shift ;;
    esac
done
[ ${#files[@]} -gt 0 ] || { echo "usage: $0 [-t T] [-r R] [-p N] [-n N] [--cputime] FILE..." >&2; exit 2; }

tfile=$(mktemp)
trap 'rm -f "$tfile"' EXIT
cpu_s() { # command... -> CPU seconds (user + sys) of the command
    /usr/bin/time -o "$tfile" -f "%U %S" "$@" >/dev/null 2>&1
    awk '{print $1 + $2}' "$tfile"
}

echo "| file | test | threads | inferd | llama.cpp | ratio |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for f in "${files[@]}"; do
    name=$(basename "$f" .gguf)
    for test in pp tg; do
        if [ $test = pp ]; then ip=(-p "$np" -n 0); lp=(-p "$np" -n 0); label="pp$np"; tok=$np
        else ip=(-p 0 -n "$ng"); lp=(-p 0 -n "$ng"); label="tg$ng"; tok=$ng; fi
        if [ $cputime = 1 ]; then
            a1=$(cpu_s "$inferd" bench-model -m "$f" "${ip[@]}" -r 1 --backend cpu --threads 1)
            aR=$(cpu_s "$inferd" bench-model -m "$f" "${ip[@]}" -r "$reps" --backend cpu --threads 1)
            b1=$(cpu_s "$peer/llama-bench" -m "$f" "${lp[@]}" -r 1 -t 1)
            bR=$(cpu_s "$peer/llama-bench" -m "$f" "${lp[@]}" -r "$reps" -t 1)
            awk -v n="$name" -v l="$label" -v a1="$a1" -v aR="$aR" -v b1="$b1" -v bR="$bR" \
                -v r="$reps" -v tok="$tok" 'BEGIN {
                ia = tok * (r - 1) / (aR - a1); ib = tok * (r - 1) / (bR - b1);
                printf "| %s | %s | 1 (tok per CPU-s) | %.1f | %.1f | %.2f |\n", n, l, ia, ib, ia / ib }'
        else
            ia=$("$inferd" bench-model -m "$f" "${ip[@]}" -r "$reps" --backend cpu --threads "$threads" --json \
                 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["tok_s"])')
            ib=$("$peer/llama-bench" -m "$f" "${lp[@]}" -r "$reps" -t "$threads" -o json \
                 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["avg_ts"])')
            awk -v n="$name" -v l="$label" -v t="$threads" -v ia="$ia" -v ib="$ib" 'BEGIN {
                printf "| %s | %s | %s | %.1f | %.1f | %.2f |\n", n, l, t, ia, ib, ia / ib }'
        fi
    done
done
