#!/usr/bin/env bash
# serve_vs_llamacpp.sh: `inferd serve` beside llama.cpp's `llama-server`, both
# driven by `inferd bench` (issue 6's performance section).
#
#   bench/serve_vs_llamacpp.sh [-m GGUF] [-t THREADS] [-n MAX_TOKENS] [-c CTX_PER_SLOT]
#                              [-o OUTDIR] [--order "inferd llama"] [--phases P]
#                              [--concurrency L] [--system-tokens N]
#
# Starts one server at a time on a loopback port (never both: the dev machine has
# 2 cores), waits for /health, runs
#   inferd bench --url URL --phases seq,conc,prefix --concurrency 1,4,16
#                --max-tokens N --temperature 0 --system-tokens 1000
#                --json OUT/<server>-<k>.json --report OUT/<server>-<k>.md
# against it, saves its /metrics, the server's CPU seconds (utime+stime from
# /proc) and the load average before and after, stops it, and goes on with the
# next. --order lists the servers in run order; a name may repeat to interleave
# repetitions ("inferd llama llama inferd"). At the end it prints a side-by-side
# Markdown table from every JSON in OUTDIR (mean over repetitions, with min-max).
#
# Both servers get the same GGUF, THREADS threads (default 2) and the same
# context per sequence (default 2048 tokens): inferd `--ctx-size C` (KV pool and
# batch of up to 64 sequences as by default), llama-server `-np 16 -c 16*C`
# (16 slots of C tokens each, no unified KV, continuous batching and prompt
# cache on as by default; a prompt goes to the slot whose cached prompt matches
# it best).
#
# env: PEER_BIN (default .peer/build-cpu/bin), INFERD (default build/sbench/src/cli/inferd),
#      PORT_INFERD (18080), PORT_LLAMA (18081)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
peer=${PEER_BIN:-$repo/.peer/build-cpu/bin}
inferd=${INFERD:-$repo/build/sbench/src/cli/inferd}
model=$HOME/.cache/inferd/models/SmolLM2-135M-Instruct.Q4_1.gguf
threads=2 ntok=256 ctx=2048 out=bench-serve order="inferd llama"
phases=seq,conc,prefix conc=1,4,16 systok=1000
pi=${PORT_INFERD:-18080} pl=${PORT_LLAMA:-18081}
while [ $# -gt 0 ]; do
    case $1 in
    -m) model=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    -n) ntok=$2; shift 2 ;;
    -c) ctx=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --order) order=$2; shift 2 ;;
    --phases) phases=$2; shift 2 ;;
    --concurrency) conc=$2; shift 2 ;;
    --system-tokens) systok=$2; shift 2 ;;
    --report-only) order=""; shift ;;
    *) echo "usage: $0 [-m GGUF] [-t T] [-n MAX_TOKENS] [-c CTX] [-o DIR] [--order LIST] [--report-only]" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
log() { echo "[$(date +%T)] $*" >&2; }

pid=
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap stop EXIT
cpu_s() { awk '{printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat"; }

run_one() { # server-name repetition-index
    local name=$1 k=$2 url port
    if [ "$name" = inferd ]; then
        port=$pi
        "$inferd" serve -m "$model" --port "$port" --threads "$threads" --ctx-size "$ctx" \
            > "$out/$name-$k.log" 2>&1 &
    else
        port=$pl
        "$peer/llama-server" -m "$model" --port "$port" -t "$threads" -np 16 \
            -c $((16 * ctx)) -no-kvu -cb --metrics --no-webui \
            > "$out/$name-$k.log" 2>&1 &
    fi
    pid=$!
    url=http://127.0.0.1:$port
    for _ in $(seq 600); do
        curl -sf "$url/health" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { echo "$name exited; see $out/$name-$k.log" >&2; exit 1; }
        sleep 0.5
    done
    local c0 l0 t0; c0=$(cpu_s "$pid"); l0=$(cut -d' ' -f1-3 /proc/loadavg); t0=$(date +%s)
    log "$name #$k: bench against $url (pid $pid, load $l0)"
    "$inferd" bench --url "$url" --phases "$phases" --concurrency "$conc" \
        --max-tokens "$ntok" --temperature 0 --system-tokens "$systok" \
        --json "$out/$name-$k.json" --report "$out/$name-$k.md" > /dev/null 2> "$out/$name-$k.progress"
    curl -s "$url/metrics" > "$out/$name-$k.metrics" || true
    printf '{"server":"%s","cpu_s":%s,"wall_s":%s,"load_before":"%s","load_after":"%s"}\n' \
        "$name" "$(awk -v a="$c0" -v b="$(cpu_s "$pid")" 'BEGIN{print b-a}')" \
        $(( $(date +%s) - t0 )) "$l0" "$(cut -d' ' -f1-3 /proc/loadavg)" > "$out/$name-$k.cpu.json"
    log "$name #$k: done in $(( $(date +%s) - t0 )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
    stop
}

declare -A rep=()
for s in $order; do
    rep[$s]=$(( ${rep[$s]:-0} + 1 ))
    run_one "$s" "${rep[$s]}"
done

# Side-by-side table over every run in $out.
python3 - "$out" <<'EOF'
import json, glob, os, sys, statistics as st
out = sys.argv[1]
runs = {}
for f in sorted(glob.glob(os.path.join(out, "*-[0-9]*.json"))):
    if f.endswith(".cpu.json"): continue
    name = os.path.basename(f).rsplit("-", 1)[0]
    d = json.load(open(f))
    cpu = f[:-5] + ".cpu.json"
    runs.setdefault(name, []).append((d, json.load(open(cpu)) if os.path.exists(cpu) else None))
if set(runs) != {"inferd", "llama"}:
    sys.exit("need runs of both servers in " + out)

def phase(d, n):
    return next((p for p in d["phases"] if p["name"] == n), None)
def vals(name, f):
    v = [f(d) for d, _ in runs[name]]
    return [x for x in v if x is not None]
def cell(v, fmt="%.1f"):
    if not v: return "-"
    s = fmt % st.mean(v)
    return s + (" (" + fmt % min(v) + "-" + fmt % max(v) + ")" if len(v) > 1 else "")
def ratio(a, b, fmt="%.2f"):
    return (fmt % (st.mean(a) / st.mean(b)) + "x") if a and b and st.mean(b) else "-"

d0 = runs["inferd"][0][0]
print(f"max_tokens {d0['config']['max_tokens']}, temperature {d0['config']['temperature']}, "
      f"runs: inferd {len(runs['inferd'])}, llama-server {len(runs['llama'])} "
      "(mean, min-max over runs)\n")
print("| phase | metric | inferd serve | llama-server | inferd / llama |")
print("| --- | --- | ---: | ---: | ---: |")
names = [p["name"] for p in d0["phases"] if p["kind"] in ("sequential", "concurrent")]
for n in names:
    thr = lambda d: (phase(d, n) or {}).get("summary", {}).get("throughput_tok_s")
    a, b = vals("inferd", thr), vals("llama", thr)
    print(f"| {n} | aggregate tok/s | {cell(a)} | {cell(b)} | **{ratio(a, b)}** |")
    p50 = lambda d: ((phase(d, n) or {}).get("summary", {}).get("ttft_ms") or {}).get("p50")
    a, b = vals("inferd", p50), vals("llama", p50)
    print(f"| {n} | TTFT p50 ms | {cell(a, '%.0f')} | {cell(b, '%.0f')} | {ratio(a, b)} |")
    dec = lambda d: ((phase(d, n) or {}).get("summary", {}).get("decode_tok_s") or {}).get("p50")
    a, b = vals("inferd", dec), vals("llama", dec)
    print(f"| {n} | decode p50 tok/s per stream | {cell(a)} | {cell(b)} | {ratio(a, b)} |")
    fail = lambda d: (phase(d, n) or {}).get("summary", {}).get("failed")
    a, b = vals("inferd", fail), vals("llama", fail)
    if sum(a) + sum(b):
        print(f"| {n} | failed | {sum(a)} | {sum(b)} | |")
for n in ("prefix", "prefix+system"):
    def sp(d, n=n):
        p = phase(d, n)
        if not p: return None
        s = [q["speedup"] for q in p["pairs"] if q.get("speedup")]
        return st.mean(s) if s else None
    def t(d, k, n=n):
        p = phase(d, n)
        return st.mean(q[k] for q in p["pairs"]) if p else None
    a, b = vals("inferd", sp), vals("llama", sp)
    print(f"| {n} | mean speedup (1st / 2nd TTFT) | {cell(a)}x | {cell(b)}x | |")
    for k, lab in (("ttft1_ms", "1st TTFT ms (mean of 3)"), ("ttft2_ms", "2nd TTFT ms (mean of 3)")):
        a, b = vals("inferd", lambda d: t(d, k)), vals("llama", lambda d: t(d, k))
        print(f"| {n} | {lab} | {cell(a, '%.0f')} | {cell(b, '%.0f')} | {ratio(a, b)} |")
for s in ("inferd", "llama"):
    for i, (d, c) in enumerate(runs[s], 1):
        if c:
            toks = sum(p["summary"]["completion_tokens"] for p in d["phases"])
            print(f"\n{s} run {i}: {c['wall_s']} s wall, server CPU {c['cpu_s']} s "
                  f"({c['cpu_s'] / max(c['wall_s'], 1):.2f} cores), {toks} tokens, "
                  f"{toks / max(c['cpu_s'], 1e-9):.1f} tok per server CPU-s; load {c['load_before']} -> {c['load_after']}", end="")
print()
EOF
