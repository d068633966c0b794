#!/usr/bin/env bash
# tokenize_bench.sh: inferd's tokenizer beside llama.cpp's llama-tokenize, same
# vocabularies, same ~10 MB English + code + Korean corpus.
#
#   bench/tokenize_bench.sh [BUILD_DIR]        (default build/release)
#   env PEER_RUNS (default 3): llama-tokenize runs per vocabulary, best kept
#   (its Gemma run takes minutes: PEER_RUNS=1 there)
#
# inferd: bench/tokenize_bench.c (the library, one call over the whole text; wall
# and thread CPU time). llama.cpp: `llama-tokenize -f CORPUS --ids --no-bos
# --no-parse-special --log-disable`, CPU time (user+sys) of the process minus that
# of the same command on a 1-byte file (process start and vocabulary load); its
# figure includes printing the ids (a few %). The machine is shared by several
# jobs, so CPU time is the figure to compare; wall time is printed for reference.
# The ids llama-tokenize printed are compared with inferd's, id by id.
# Corpus: bench/peer/make-tokenize-corpus.py (deterministic).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
MODELS=${INFERD_MODELS:-$HOME/.cache/inferd/models}
PEER=${PEER_BIN:-$ROOT/.peer/build-cpu/bin}/llama-tokenize
CORPUS=$ROOT/.peer/tokenize-corpus.txt
PY=$ROOT/.venv/bin/python
[ -f "$CORPUS" ] || "$PY" "$ROOT/bench/peer/make-tokenize-corpus.py" "$CORPUS"
BENCH=$BUILD/tests/tools/tokenize_bench
[ -x "$BENCH" ] || { echo "build the tokenize_bench target in $BUILD first" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf a > "$TMP/tiny.txt"

# CPU seconds (user+sys) of a command, its stdout to a file.
cpu_of() {
    local out=$1; shift
    local TIMEFORMAT=%U+%S
    { time "$@" > "$out" 2>/dev/null; } 2>&1 | awk -F+ '{ print $1 + $2 }'
}

echo "corpus: $CORPUS ($(stat -c %s "$CORPUS") bytes, sha256 $(sha256sum "$CORPUS" | cut -c1-16)...)"
for m in SmolLM2-135M-Instruct.Q4_1 gemma-3-270m-q4_k_m; do
    MODEL=$MODELS/$m.gguf
    echo
    echo "== $m"
    if [ -x "$PEER" ]; then
        ARGS=(--ids --no-bos --no-parse-special --no-escape --log-disable)
        loads=(); totals=()
        for _ in $(seq "${PEER_RUNS:-3}"); do
            loads+=("$(cpu_of "$TMP/tiny.ids" "$PEER" -m "$MODEL" -f "$TMP/tiny.txt" "${ARGS[@]}")")
            totals+=("$(cpu_of "$TMP/peer.ids" "$PEER" -m "$MODEL" -f "$CORPUS" "${ARGS[@]}")")
        done
        printf '%s\n' "${loads[@]}" "-" "${totals[@]}" | awk -v size="$(stat -c %s "$CORPUS")" -v runs="${PEER_RUNS:-3}" '
            $0 == "-" { part = 1; next }
            part == 0 && (l == "" || $1 < l) { l = $1 }
            part == 1 && (t == "" || $1 < t) { t = $1 }
            END { s = t - l; printf "llama-tokenize: CPU %.2f s total, %.2f s start+load, %.2f s tokenizing = %.2f MB/s (best of %d)\n", t, l, s, size / 1e6 / s, runs }'
        "$BENCH" "$MODEL" "$CORPUS" --runs 3 --threads 2 --ids "$TMP/peer.ids"
    else
        echo "llama-tokenize not found at $PEER: peer figure missing"
        "$BENCH" "$MODEL" "$CORPUS" --runs 3 --threads 2
    fi
done
