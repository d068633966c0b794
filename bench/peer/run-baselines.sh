#!/usr/bin/env bash
# llama.cpp CPU baselines: llama-bench pp512 / tg128 at 1 and 2 threads on the
# project's benchmark files, plus this machine's memory bandwidth (membw.c).
# Prints markdown rows for bench/RESULTS.md and keeps llama-bench's JSON in
# .peer/results/.
#
# usage: bench/peer/run-baselines.sh [GGUF ...]
#   default files: SmolLM2-135M-Instruct Q4_1 and Gemma 3 270M Q4_K_M from
#   $INFERD_MODELS (~/.cache/inferd/models); pass synth files as extra arguments.
# env: PEER_BIN (.peer/build-cpu/bin), REPS (llama-bench -r, default 5), THREADS ("1 2")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${PEER_BIN:-$repo/.peer/build-cpu/bin}
models=${INFERD_MODELS:-$HOME/.cache/inferd/models}
reps=${REPS:-5}
threads=${THREADS:-"1 2"}
out=$repo/.peer/results
mkdir -p "$out"

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=("$models/SmolLM2-135M-Instruct.Q4_1.gguf" "$models/gemma-3-270m-q4_k_m.gguf")
fi

echo "## machine"
lscpu | grep -E 'Model name|^CPU\(s\)' | sed 's/  */ /g'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cc -O3 -march=native -pthread "$here/membw.c" -o "$out/membw"
for t in 1 2; do "$out/membw" "$t" 512 10; done

echo
echo "## llama-bench (pp512, tg128, -r $reps)"
echo "command: llama-bench -m FILE -p 512 -n 128 -t THREADS -r $reps -o json"
echo "| file | type | size | test | threads | best tok/s | avg ± sd tok/s | load avg |"
echo "|---|---|---:|---|---|---:|---:|---:|"
for f in "${files[@]}"; do
    name=$(basename "$f" .gguf)
    for t in $threads; do
        json=$out/llama-bench-$name-t$t.json
        load=$(cut -d' ' -f1 /proc/loadavg)
        "$bin/llama-bench" -m "$f" -p 512 -n 128 -t "$t" -r "$reps" -o json > "$json"
        python3 - "$json" "$name" "$t" "$load" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
for r in rows:
    test = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
    best = max(r.get("samples_ts") or [r["avg_ts"]])
    print(f"| {sys.argv[2]} | {r['model_type']} | {r['model_size']/1e6:.1f} MB | {test} | -t {sys.argv[3]} "
          f"| {best:.1f} | {r['avg_ts']:.1f} ± {r['stddev_ts']:.1f} | {sys.argv[4]} |")
PY
    done
done
