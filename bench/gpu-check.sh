#!/usr/bin/env bash
# gpu-check.sh OUTDIR: everything the CUDA backend needs checked on the GPU
# machine, in one go (docs/cuda.md):
#   1. the binaries: carried in .devdata/bin (built on the development machine,
#      with the shared libraries they need in .devdata/lib), else built here;
#   2. the CUDA test suite (test_cuda_ops, test_cuda_model);
#   3. benchmark models made with `inferd synth` (GPU_CHECK_MODELS, default
#      "llama3-1b:Q4_0 llama3-8b:Q4_0 llama3-8b:Q8_0 llama3-8b:Q4_K llama3-8b:F16"),
#      `inferd bench-model --backend cuda` on each;
#      the same decode with step recording off (INFERD_CUDA_GRAPHS=0) for the
#      first model, as an A/B (GPU_CHECK_AB=0 skips);
#      batched decode in process (engine_bench --prompt-len 128 --gen 128 at
#      1, 4, 16, 64 sequences) on GPU_CHECK_BATCH_MODELS (default the 8B Q4_0
#      and Q8_0 files; GPU_CHECK_BATCH=0 skips);
#      the original benchmark's shape through the server (`inferd serve` +
#      `inferd bench --phases seq,conc --concurrency 4 --max-tokens 256
#      --ignore-eos`) on the 8B Q4_0 file (GPU_CHECK_SERVER=0 skips);
#   then Nsight Compute over one 8B Q4_0 decode token (GPU_CHECK_NCU=0 skips;
#      GPU_CHECK_NCU_SKIP / _COUNT: launches to skip, then to profile: one token);
#   then compute-sanitizer: memcheck on test_cuda_ops and test_cuda_mmf
#      (GPU_CHECK_SANITIZER=0 skips), racecheck on test_cuda_fattn, test_cuda_mmf
#      and test_cuda_ops (GPU_CHECK_RACECHECK=0 skips);
#   4. logs and summary.md (a table with GB/s and % of the 3.1 TB/s read
#      bandwidth for decode) in OUTDIR.
# llama.cpp's CUDA build, the peer, is started first in the background (from
# .peer/llama.cpp-*-src.tar.gz, see bench/peer/build-llama-cpp.sh --pack;
# GPU_CHECK_PEER=0 skips) and measured on the same files by bench/gpu-peer.sh.
# Each step has its own time limit, so the summary is written whatever happens.
# Usage on the device: bench/gpu-check.sh "$OUT"
set -u
OUTDIR=${1:?usage: bench/gpu-check.sh OUTDIR}
mkdir -p "$OUTDIR"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODELS=${GPU_CHECK_MODELS:-"llama3-1b:Q4_0 llama3-8b:Q4_0 llama3-8b:Q8_0 llama3-8b:F16 llama3-8b:Q4_K"}
WORK=${GPU_CHECK_WORK:-/tmp/inferd-gpu-check}
BW=3.1e12 # H100 read bandwidth measured in practice (issue 7), bytes/s
mkdir -p "$WORK"
SUM="$OUTDIR/summary.md"
ENVLOG="$OUTDIR/env.log"
: > "$ENVLOG"

# ---- binaries and libraries (BIN, LD_LIBRARY_PATH) ----
. "$ROOT/bench/gpu-env.sh"
if ! "$BIN/inferd" --help > /dev/null 2>>"$ENVLOG"; then
    echo "carried binaries do not run here; building" | tee -a "$ENVLOG"
    B="$ROOT/build/gpu"
    (cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$B" -j"$(nproc)" --target inferd test_cuda_ops test_cuda_model) \
        >> "$ENVLOG" 2>&1
    mkdir -p "$WORK/bin"
    cp "$B/src/cli/inferd" "$B/tests/unit/cuda/test_cuda_ops" "$B/tests/unit/cuda/test_cuda_model" \
        "$WORK/bin/" 2>>"$ENVLOG"
    BIN=$WORK/bin
fi
{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
    echo "cublas from: ${CUDALIB:-?}"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    ldd "$BIN/inferd" | grep -i "not found"
} >> "$ENVLOG" 2>&1
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)

status() { # name rc
    case $2 in 0) echo "pass" ;; 77) echo "skip" ;; 124) echo "TIMEOUT" ;; *) echo "FAIL ($2)" ;; esac
}

stamp() { echo "$(date +%T) $*" >> "$ENVLOG"; }

# ---- the peer's build, in the background (setsid: it outlives this call) ----
PEER_PACK=$(ls "$ROOT"/.peer/llama.cpp-*-src.tar.gz 2>/dev/null | head -1)
if [ "${GPU_CHECK_PEER:-1}" = 1 ] && [ -n "$PEER_PACK" ] &&
    [ ! -x "$ROOT/.peer/build-cuda/bin/llama-bench" ] && ! pgrep -f build-llama-cpp > /dev/null; then
    stamp "peer build started"
    setsid nohup bash "$ROOT/bench/peer/build-llama-cpp.sh" --cuda --jobs "${GPU_CHECK_PEER_JOBS:-12}" \
        --targets "llama-bench llama-batched-bench" > "$WORK/peer-build.log" 2>&1 < /dev/null &
fi

# ---- tests ----
export INFERD_SOURCE_DIR=$ROOT
declare -A R_TEST
for t in test_cuda_ops test_cuda_model test_cuda_mmq test_cuda_mmf test_cuda_mmvq_k test_cuda_fattn; do
    [ -x "$BIN/$t" ] || continue
    stamp "$t"
    timeout "${GPU_CHECK_TEST_S:-120}" "$BIN/$t" > "$OUTDIR/$t.log" 2>&1
    R_TEST[$t]=$?
done
# cuda_mmf.cu picks its register or its pipelined kernel by rows and format:
# each once more for all rows
for v in 1 2; do
    [ -x "$BIN/test_cuda_mmf" ] || break
    t=test_cuda_mmf_cfg$v
    stamp "$t"
    INFERD_CUDA_MMF_CFG=$v timeout "${GPU_CHECK_TEST_S:-120}" "$BIN/test_cuda_mmf" > "$OUTDIR/$t.log" 2>&1
    R_TEST[$t]=$?
done
# with both tensor-core matmuls off every batch of packed weights goes through
# the f16 dequantization for cuBLAS, which the default dispatch keeps for
# prefill past 256 rows only
if [ -x "$BIN/test_cuda_ops" ]; then
    t=test_cuda_ops_cublas
    stamp "$t"
    INFERD_CUDA_MMQ=0 INFERD_CUDA_MMF=0 timeout "${GPU_CHECK_TEST_S:-120}" "$BIN/test_cuda_ops" \
        > "$OUTDIR/$t.log" 2>&1
    R_TEST[$t]=$?
fi
# without thread-block clusters, as on GPUs before sm_90: the decode attention
# merges its splits in the combine kernel and argmax scans a row with one block
if [ -x "$BIN/test_cuda_ops" ]; then
    t=test_cuda_ops_noclusters
    stamp "$t"
    INFERD_CUDA_CLUSTERS=0 timeout "${GPU_CHECK_TEST_S:-120}" "$BIN/test_cuda_ops" > "$OUTDIR/$t.log" 2>&1
    R_TEST[$t]=$?
fi
# ---- benchmarks ----
BENCH="$OUTDIR/bench.log"
: > "$BENCH"
for spec in $MODELS; do
    preset=${spec%%:*}
    type=${spec##*:}
    f="$WORK/$preset-$type.gguf"
    stamp "bench $preset $type"
    if [ ! -s "$f" ]; then
        t0=$(date +%s.%N)
        timeout "${GPU_CHECK_SYNTH_S:-150}" "$BIN/inferd" synth --preset "$preset" --type "$type" -o "$f" >> "$BENCH" 2>&1 ||
            { echo "synth $preset $type failed" >> "$BENCH"; continue; }
        echo "synth $preset $type: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >> "$BENCH"
    fi
    timeout "${GPU_CHECK_BENCH_S:-150}" "$BIN/inferd" bench-model -m "$f" --backend cuda \
        -p "${GPU_CHECK_PP:-512}" -n "${GPU_CHECK_TG:-128}" -r "${GPU_CHECK_REPS:-3}" --json \
        2>&1 | sed "s/^{/{\"preset\":\"$preset\",/" >> "$BENCH"
    echo "bench-model $preset $type: exit ${PIPESTATUS[0]}" >> "$BENCH"
    for pp in ${GPU_CHECK_PP_MORE:-2048}; do
        timeout "${GPU_CHECK_BENCH_S:-150}" "$BIN/inferd" bench-model -m "$f" --backend cuda \
            -p "$pp" -n 0 -r "${GPU_CHECK_REPS:-3}" --json \
            2>&1 | sed "s/^{/{\"preset\":\"$preset\",/" >> "$BENCH"
    done
    if [ -z "${AB_DONE:-}" ] && [ "${GPU_CHECK_AB:-1}" = 1 ]; then
        AB_DONE=1
        INFERD_CUDA_GRAPHS=0 timeout "${GPU_CHECK_BENCH_S:-150}" "$BIN/inferd" bench-model -m "$f" \
            --backend cuda -p 0 -n "${GPU_CHECK_TG:-128}" -r "${GPU_CHECK_REPS:-3}" --json 2>&1 |
            sed "s/^{/{\"preset\":\"$preset (graphs off)\",/" >> "$BENCH"
    fi
done

# ---- batched decode in process ----
BATCH="$OUTDIR/batched.log"
: > "$BATCH"
if [ -x "$BIN/engine_bench" ] && [ "${GPU_CHECK_BATCH:-1}" = 1 ]; then
    BATCH_MODELS=${GPU_CHECK_BATCH_MODELS:-llama3-8b:Q4_0 llama3-8b:Q8_0}
    for spec in $BATCH_MODELS; do
        f="$WORK/${spec%%:*}-${spec##*:}.gguf"
        [ -s "$f" ] || continue
        stamp "batched $spec"
        timeout "${GPU_CHECK_BATCH_S:-180}" "$BIN/engine_bench" -m "$f" --backend cuda --parts a \
            --seqs "${GPU_CHECK_SEQS:-1,4,16,64}" --prompt-len 128 --gen 128 --reps 1 \
            --bw-gbs 3100 >> "$BATCH" 2>&1
        echo "engine_bench $spec: exit $?" >> "$BATCH"
    done
fi

# ---- the original benchmark's shape through the server ----
SERVE="$OUTDIR/serve-bench.md"
F8="$WORK/llama3-8b-Q4_0.gguf"
if [ "${GPU_CHECK_SERVER:-1}" = 1 ] && [ -s "$F8" ]; then
    stamp serve
    "$BIN/inferd" serve -m "$F8" --backend cuda --port 18080 --ctx-size 4096 \
        > "$WORK/serve.log" 2>&1 &
    SPID=$!
    for _ in $(seq 120); do
        python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:18080/health', timeout=2)" 2>/dev/null && break
        sleep 1
    done
    timeout "${GPU_CHECK_SERVE_S:-200}" "$BIN/inferd" bench --url http://127.0.0.1:18080 \
        --phases seq,conc --concurrency 4 --max-tokens 256 --ignore-eos --quiet \
        --report "$SERVE" --json "$OUTDIR/serve-bench.json" > /dev/null 2>> "$WORK/serve.log"
    echo "inferd bench: exit $?" >> "$WORK/serve.log"
    kill -TERM "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    tail -5 "$WORK/serve.log" > "$OUTDIR/serve.log"
fi

# ---- where one decode token of the 8B Q4_0 model spends its time (Nsight Compute) ----
F8="$WORK/llama3-8b-Q4_0.gguf"
if [ "${GPU_CHECK_NCU:-1}" = 1 ] && command -v ncu > /dev/null && [ -s "$F8" ]; then
    stamp ncu
    # bench-model -p 0 -n 3: a warm-up token, then 3; skip the warm-up's launches
    timeout "${GPU_CHECK_NCU_S:-120}" ncu --launch-skip "${GPU_CHECK_NCU_SKIP:-800}" --launch-count "${GPU_CHECK_NCU_COUNT:-690}" --csv \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum \
        env INFERD_CUDA_GRAPHS=0 "$BIN/inferd" bench-model -m "$F8" --backend cuda -p 0 -n 3 -r 1 > "$WORK/ncu.csv" 2>&1
    python3 "$ROOT/bench/ncu_summary.py" "$WORK/ncu.csv" > "$OUTDIR/ncu.log" 2>&1
fi

# ---- sanitizers last: the slowest and the least likely to find news ----
# memcheck over the op suite and the f16 tensor-core matmul (its address
# arithmetic); racecheck over the kernels whose warps share memory: the
# tensor-core attention, the f16 matmul's cp.async ring, and the op suite
# (the decode attention's cluster merge, the quick tile cases). One log each,
# TOOL-TEST.log.
declare -A R_SAN
SAN_RUNS=
[ "${GPU_CHECK_SANITIZER:-1}" = 1 ] && SAN_RUNS="memcheck:test_cuda_ops memcheck:test_cuda_mmf"
[ "${GPU_CHECK_RACECHECK:-1}" = 1 ] &&
    SAN_RUNS="$SAN_RUNS racecheck:test_cuda_fattn racecheck:test_cuda_mmf racecheck:test_cuda_ops"
command -v compute-sanitizer > /dev/null || SAN_RUNS=
for r in $SAN_RUNS; do
    tool=${r%%:*} t=${r##*:}
    [ -x "$BIN/$t" ] || continue
    stamp "$tool $t"
    extra=
    [ "$tool" = memcheck ] && extra="--leak-check no"
    # shellcheck disable=SC2086 # $extra: no option or one option of two words
    timeout "${GPU_CHECK_SANITIZER_S:-150}" compute-sanitizer --tool "$tool" $extra \
        --error-exitcode 3 "$BIN/$t" > "$OUTDIR/$tool-$t.log" 2>&1
    R_SAN[$tool-$t]=$?
done

# ---- summary ----
stamp summary
{
    echo "# gpu-check $(date -u +%F), ${GPU:-no GPU found}"
    echo
    echo "| check | result |"
    echo "| --- | --- |"
    for t in "${!R_TEST[@]}"; do
        echo "| $t | $(status "$t" "${R_TEST[$t]}") $(grep -E '^[0-9]+ passed' "$OUTDIR/$t.log" | tail -1) |"
    done
    for k in "${!R_SAN[@]}"; do
        echo "| ${k/-/ } | $(status "$k" "${R_SAN[$k]}") $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUTDIR/$k.log" | tail -1) |"
    done
    echo
    echo "| model | type | file GB | test | tok/s | GB/s (decode: file bytes x tok/s) | % of 3.1 TB/s |"
    echo "| --- | --- | ---: | --- | ---: | ---: | ---: |"
    grep '^{' "$BENCH" | python3 -c '
import json, sys
bw = float(sys.argv[1])
for line in sys.stdin:
    r = json.loads(line)
    gb = r["size_bytes"] / 1e9
    tps, sd, test = r["tok_s"], r["tok_s_sd"], r["test"]
    name, typ = r.get("preset", r["model"]), r["type"]
    row = "| %s | %s | %.2f | %s | %.1f +- %.1f |" % (name, typ, gb, test, tps, sd)
    if test.startswith("tg"):
        gbs = gb * tps
        row += " %.0f | %.0f%% |" % (gbs, 100 * gbs * 1e9 / bw)
    else:
        row += " | |"
    print(row)
' "$BW"
} > "$SUM" 2>&1
cat "$SUM"
echo
for t in "${!R_TEST[@]}"; do echo "--- $t (tail)"; tail -15 "$OUTDIR/$t.log"; done
echo "--- batched (engine_bench)"; grep -E '^\||^\(a\)|exit' "$BATCH" 2>/dev/null
echo "--- server (inferd bench)"; grep -iE 'throughput|phase|c=|seq' "$SERVE" 2>/dev/null | head -20
for k in "${!R_SAN[@]}"; do echo "--- $k (tail)"; tail -3 "$OUTDIR/$k.log"; done
echo "--- ncu (one 8B Q4_0 decode window)"; head -20 "$OUTDIR/ncu.log" 2>/dev/null
# the exit status says whether every test and sanitizer run that ran passed
# (a skipped step is not a failure)
for t in "${!R_TEST[@]}"; do [ "${R_TEST[$t]}" = 0 ] || exit 1; done
for k in "${!R_SAN[@]}"; do [ "${R_SAN[$k]}" = 0 ] || exit 1; done
exit 0
