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
# next (runs add to those already in OUTDIR). --order lists the servers in run order; a name may repeat to interleave
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
# Server names for --order: inferd, llama (llama-server as shipped), and
# llama-passive (the same with OMP_WAIT_POLICY=passive: the peer is built with
# OpenMP, whose workers spin at barriers; on a shared, overloaded machine that
# spinning is most of its CPU time, see bench/RESULTS.md).
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
        local envs=()
        [ "$name" = llama-passive ] && envs=(OMP_WAIT_POLICY=passive)
        env "${envs[@]}" "$peer/llama-server" -m "$model" --port "$port" -t "$threads" -np 16 \
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

for s in $order; do # repetitions are numbered after those already in $out
    k=1; while [ -e "$out/$s-$k.json" ]; do k=$((k + 1)); done
    run_one "$s" "$k"
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
peers = [n for n in ("llama", "llama-passive") if n in runs]
if "inferd" not in runs or not peers:
    sys.exit("need runs of inferd and of llama-server in " + out)

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
lab = {"llama": "llama-server", "llama-passive": "llama-server, OMP passive"}
print(f"max_tokens {d0['config']['max_tokens']}, temperature {d0['config']['temperature']}, runs: "
      + ", ".join(f"{lab.get(n, n)} {len(runs[n])}" for n in ["inferd"] + peers)
      + " (mean, min-max over runs)\n")
print("| phase | metric | inferd serve | " + " | ".join(lab[p] for p in peers) + " | "
      + " | ".join("inferd / " + lab[p] for p in peers) + " |")
print("| --- | --- | ---: |" + " ---: |" * (2 * len(peers)))
def row(n, metric, f, fmt="%.1f", bold=False, suffix=""):
    a = vals("inferd", f); bs = [vals(p, f) for p in peers]
    if not a and not any(bs): return  # phase not run
    rs = [ratio(a, b) for b in bs]
    if bold: rs = ["**" + r + "**" for r in rs]
    print(f"| {n} | {metric} | {cell(a, fmt)}{suffix} | " + " | ".join(cell(b, fmt) + suffix for b in bs)
          + " | " + " | ".join(rs) + " |")
names = [p["name"] for p in d0["phases"] if p["kind"] in ("sequential", "concurrent")]
def summ(d, n, k, sub=None):
    v = ((phase(d, n) or {}).get("summary") or {}).get(k)
    return (v or {}).get(sub) if sub else v
for n in names:
    row(n, "aggregate tok/s", lambda d: summ(d, n, "throughput_tok_s"), bold=True)
    row(n, "TTFT p50 ms", lambda d: summ(d, n, "ttft_ms", "p50"), "%.0f")
    row(n, "decode p50 tok/s per stream", lambda d: summ(d, n, "decode_tok_s", "p50"))
    fails = [sum(vals(s, lambda d: summ(d, n, "failed"))) for s in ["inferd"] + peers]
    if sum(fails):
        print(f"| {n} | failed | " + " | ".join(map(str, fails)) + " |" + " |" * len(peers))
for n in ("prefix", "prefix+system"):
    def sp(d, n=n):
        p = phase(d, n)
        s = [q["speedup"] for q in p["pairs"] if q.get("speedup")] if p else []
        return st.mean(s) if s else None
    def t(d, k, n=n):
        p = phase(d, n)
        return st.mean(q[k] for q in p["pairs"]) if p else None
    row(n, "mean speedup (1st / 2nd TTFT)", sp, suffix="x")
    row(n, "1st TTFT ms (mean of 3 pairs)", lambda d: t(d, "ttft1_ms"), "%.0f")
    row(n, "2nd TTFT ms (mean of 3 pairs)", lambda d: t(d, "ttft2_ms"), "%.0f")
for s in ["inferd"] + peers:
    for i, (d, c) in enumerate(runs[s], 1):
        if c:
            toks = sum(p["summary"]["completion_tokens"] for p in d["phases"])
            print(f"\n{lab.get(s, s)} run {i}: {c['wall_s']} s wall, server CPU {c['cpu_s']:.1f} s "
                  f"({c['cpu_s'] / max(c['wall_s'], 1):.2f} cores), {toks} tokens, "
                  f"{toks / max(c['cpu_s'], 1e-9):.1f} tok per server CPU-s; load {c['load_before']} -> {c['load_after']}", end="")
print()
EOF
