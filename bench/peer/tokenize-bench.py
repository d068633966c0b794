#!/usr/bin/env python3
"""Tokenizer throughput of the llama.cpp peer (llama-tokenize) on the benchmark corpus.

For each vocabulary: llama-tokenize -f CORPUS --ids --no-bos --no-parse-special
--no-escape --log-disable, stdout to a file. Wall time, best of N runs, minus the
best time of the same command on a 1-byte file (process start + vocabulary load),
gives the tokenization time; MB/s = corpus bytes / 1e6 / that time. The figure
includes writing the ids as text (a few % of the time). The ids of the last run
are kept beside the corpus (.peer/tokenize-corpus.<model>.ids, one Python-style
list) so that inferd's tokenizer can be checked against them.

Standard library only. usage:
  bench/peer/tokenize-bench.py [--corpus PATH] [--runs N] [--vocab smollm2|gemma3] [--prefix BYTES]

llama.cpp's tokenizer is not linear in the input for the Gemma 3 vocabulary (one
10 MB string did not finish in 20 minutes here; see bench/RESULTS.md), so Gemma is
timed on prefixes: --vocab gemma3 --prefix 1000000.
env: PEER_BIN (default .peer/build-cpu/bin), INFERD_MODELS (default ~/.cache/inferd/models)
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
VOCABS = {
    "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": "gemma-3-270m-q4_k_m.gguf",
}


def timed(cmd, out_path):
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(REPO, ".peer", "tokenize-corpus.txt"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vocab", action="append", choices=list(VOCABS),
                    help="vocabulary to time (repeatable; default all)")
    ap.add_argument("--prefix", type=int, default=0,
                    help="time only the corpus's first N bytes (cut after a newline)")
    args = ap.parse_args()
    bin_dir = os.environ.get("PEER_BIN", os.path.join(REPO, ".peer", "build-cpu", "bin"))
    models = os.environ.get("INFERD_MODELS", os.path.expanduser("~/.cache/inferd/models"))
    if not os.path.exists(args.corpus):
        subprocess.run([sys.executable, os.path.join(HERE, "make-tokenize-corpus.py"), args.corpus], check=True)
    data = open(args.corpus, "rb").read()
    print(f"corpus {args.corpus}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    corpus = args.corpus
    if args.prefix:
        data = data[:data.rindex(b"\n", 0, args.prefix) + 1]
        corpus = os.path.splitext(args.corpus)[0] + f".prefix{args.prefix}.txt"
        with open(corpus, "wb") as f:
            f.write(data)
        print(f"prefix {corpus}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    size = len(data)
    tiny = os.path.join(REPO, ".peer", "tokenize-tiny.txt")
    with open(tiny, "w") as f:
        f.write("a")
    print("| vocabulary | tokens | bytes/token | load (s) | total (s) | tokenize (s) | MB/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.vocab or list(VOCABS):
        fname = VOCABS[name]
        model = os.path.join(models, fname)
        base = [os.path.join(bin_dir, "llama-tokenize"), "-m", model, "--ids", "--no-bos",
                "--no-parse-special", "--no-escape", "--log-disable", "-f"]
        ids_path = os.path.splitext(corpus)[0] + f".{name}.ids"
        scratch = ids_path + ".tiny"
        load = min(timed(base + [tiny], scratch) for _ in range(args.runs))
        total = min(timed(base + [corpus], ids_path) for _ in range(args.runs))
        os.unlink(scratch)
        n = len(json.loads(open(ids_path).read()))
        t = total - load
        print(f"| {name} ({fname}) | {n} | {size / n:.2f} | {load:.3f} | {total:.3f} | {t:.3f} | {size / 1e6 / t:.2f} |")
    os.unlink(tiny)


if __name__ == "__main__":
    main()
