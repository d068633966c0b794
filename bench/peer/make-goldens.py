#!/usr/bin/env python3
"""Golden greedy continuations from the llama.cpp peer (llama-server), as JSON facts.

For each model: start llama-server (built by bench/peer/build-llama-cpp.sh) on a free
local port, tokenize fixed prompts through its /tokenize (add_special=true, which adds
BOS only where the model's tokenizer.ggml.add_bos_token says so; parse_special=false),
send the ids to /completion (temperature 0, 64 new tokens, return_tokens, n_probs 5,
no prompt cache) and keep the generated ids exactly as sampled: never re-tokenized text.
One chat-templated prompt per model that carries a template is rendered by llama-server's own /apply-template
(its Jinja engine, the model's template) and tokenized with parse_special=true.

The primary run uses 1 thread and flash attention off; servers with 2 threads (flash
attention off, then on) are cross-checks: each run records where their ids differ.
Each run records the smallest top-1/top-2 logprob gap along it: the margin by which
another implementation's greedy ids can be expected to agree.

llama-server reports no probabilities for a sampled token that leaves the text so far
ending inside a UTF-8 character (it holds such tokens back until the character is
complete). Those steps keep their id and piece with "logprob" and "top5" null; the
script aligns the reported entries to the tokens from the vocabulary in the GGUF
file (read here with a small GGUF metadata reader) and checks the alignment.

Standard library only. usage:
  bench/peer/make-goldens.py [--model smollm2|gemma3|all] [--out-dir tests/golden]
env: PEER_BIN (default .peer/build-cpu/bin), INFERD_MODELS (default ~/.cache/inferd/models)
"""
import argparse
import hashlib
import json
import math
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
N_PREDICT = 64
N_PROBS = 5

PLAIN_PROMPTS = [
    "Once upon a time",
    "The capital of France is",
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
    "Question: Why is the sky blue?\nAnswer:",
    "한국의 수도는",
]
CHAT = [{"role": "user", "content": "What is the capital of France?"}]

# primary first; the others are cross-checks recorded per run
CONFIGS = (("t1-fa-off", 1, False), ("t2-fa-off", 2, False), ("t2-fa-on", 2, True))

MODELS = {
    "smollm2": {
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "out": "llamacpp-smollm2-greedy.json",
        "name": "SmolLM2-135M-Instruct Q4_1",
    },
    "gemma3": {
        "file": "gemma-3-270m-q4_k_m.gguf",
        "out": "llamacpp-gemma3-greedy.json",
        "name": "Gemma 3 270M Q4_K_M",
    },
}


def gguf_vocab(path):
    """Return (tokenizer model, tokens, token types, chat template or None) from a GGUF file."""
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    with open(path, "rb") as f:
        def rd(fmt):
            n = struct.calcsize(fmt)
            return struct.unpack("<" + fmt, f.read(n))[0]

        def rstr():
            return f.read(rd("Q")).decode("utf-8", errors="surrogateescape")

        def rval(t):
            if t in scalar:
                return rd(scalar[t])
            if t == 8:
                return rstr()
            if t == 9:
                et, n = rd("I"), rd("Q")
                return [rval(et) for _ in range(n)]
            raise ValueError(f"{path}: unknown GGUF value type {t}")

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        rd("I")
        rd("Q")
        n_kv = rd("Q")
        kv = {}
        for _ in range(n_kv):
            key = rstr()
            kv[key] = rval(rd("I"))
    return (kv["tokenizer.ggml.model"], kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"],
            kv.get("tokenizer.chat_template"))


def gpt2_byte_decoder():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class Pieces:
    """Bytes of each token as llama.cpp's token_to_piece writes them (specials shown)."""

    def __init__(self, path):
        self.model, self.tokens, self.types, self.chat_template = gguf_vocab(path)
        self.dec = gpt2_byte_decoder()

    def bytes(self, tid):
        t, ty = self.tokens[tid], self.types[tid]
        if self.model == "gpt2":
            if ty in (3, 4):  # control, user-defined: the text itself
                return t.encode()
            return bytes(self.dec[c] for c in t)
        if ty == 6 and t.startswith("<0x") and t.endswith(">"):  # SPM byte token
            return bytes([int(t[3:-1], 16)])
        return t.replace("\u2581", " ").encode()


def utf8_incomplete(b):
    """True when b ends inside a multi-byte character (llama-server's validate_utf8)."""
    for i in range(1, min(4, len(b)) + 1):
        c = b[-i]
        if (c & 0xE0) == 0xC0 and i < 2 or (c & 0xF0) == 0xE0 and i < 3 or (c & 0xF8) == 0xF0 and i < 4:
            return True
    return False


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bin_dir, model, threads, flash_attn, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [os.path.join(bin_dir, "llama-server"), "-m", model,
               "--host", "127.0.0.1", "--port", str(self.port),
               "-t", str(threads), "-tb", str(threads), "-c", "4096", "-np", "1",
               "-fa", "on" if flash_attn else "off", "--jinja", "--no-webui"]
        self.cmd = cmd
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama-server exited ({self.proc.returncode}); see {log_path}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.time() > deadline:
                raise RuntimeError(f"llama-server not ready after 120 s; see {log_path}")
            time.sleep(0.3)

    def post(self, route, body):
        req = urllib.request.Request(self.url + route, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            return json.loads(r.read())

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def generate(srv, prompt_ids, pieces):
    res = srv.post("/completion", {
        "prompt": prompt_ids, "n_predict": N_PREDICT, "temperature": 0,
        "n_probs": N_PROBS, "return_tokens": True, "cache_prompt": False,
        "stream": False,
    })
    ids = res["tokens"]
    probs = res.get("completion_probabilities", [])
    # which steps llama-server reports: those after which the text is whole UTF-8
    text, reported = b"", []
    for tok in ids:
        text += pieces.bytes(tok)
        reported.append(not utf8_incomplete(text))
    if sum(reported) != len(probs):
        raise RuntimeError(f"{len(ids)} tokens, {sum(reported)} expected and {len(probs)} "
                           "reported probability entries")
    it = iter(probs)
    steps, gap = [], math.inf
    for tok, rep in zip(ids, reported):
        if not rep:
            steps.append({"id": tok, "token": None, "logprob": None, "top5": None})
            continue
        p = next(it)
        if p["id"] != tok:
            raise RuntimeError(f"probability entry for {p['id']} where token {tok} was sampled")
        top = [[t["id"], t["logprob"]] for t in p["top_logprobs"]]
        if top[0][0] != tok:
            raise RuntimeError(f"greedy token {tok} is not the top-1 ({top[0][0]})")
        if len(top) > 1:
            gap = min(gap, top[0][1] - top[1][1])
        steps.append({"id": tok, "token": p["token"], "logprob": p["logprob"], "top5": top})
    stop = res.get("stop_type", "limit")
    return {
        "completion_ids": ids,
        "completion_text": res["content"],
        "stop": stop,
        "min_top1_top2_gap": round(gap, 6),
        "top5_logprobs_per_step": steps,
    }


def runs_for(srv, pieces):
    runs = []
    for prompt in PLAIN_PROMPTS:
        ids = srv.post("/tokenize", {"content": prompt, "add_special": True,
                                     "parse_special": False})["tokens"]
        run = {"prompt": prompt, "prompt_ids": ids}
        run.update(generate(srv, ids, pieces))
        runs.append(run)
    if not pieces.chat_template:
        return runs  # no template in the file: llama-server would fall back to its own
    rendered = srv.post("/apply-template", {"messages": CHAT, "add_generation_prompt": True})["prompt"]
    ids = srv.post("/tokenize", {"content": rendered, "add_special": True,
                                 "parse_special": True})["tokens"]
    run = {"prompt": rendered, "chat_messages": CHAT, "specials_parsed": True, "prompt_ids": ids}
    run.update(generate(srv, ids, pieces))
    runs.append(run)
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="all", choices=["all"] + list(MODELS))
    ap.add_argument("--out-dir", default=os.path.join(REPO, "tests", "golden"))
    args = ap.parse_args()
    bin_dir = os.environ.get("PEER_BIN", os.path.join(REPO, ".peer", "build-cpu", "bin"))
    models_dir = os.environ.get("INFERD_MODELS", os.path.expanduser("~/.cache/inferd/models"))
    src_dir = os.path.join(REPO, ".peer", "llama.cpp-0.3.36")
    commit = "unknown"
    try:
        commit = open(os.path.join(src_dir, "LLAMA_CPP_COMMIT")).read().strip() or commit
    except OSError:
        pass
    fails = 0
    for key in (MODELS if args.model == "all" else [args.model]):
        m = MODELS[key]
        path = os.path.join(models_dir, m["file"])
        if not os.path.exists(path):
            print(f"{key}: {path} missing (scripts/setup.sh fetches it)", file=sys.stderr)
            fails += 1
            continue
        results = {}
        for label, threads, fa in CONFIGS:
            log = os.path.join(REPO, ".peer", f"golden-{key}-{label}.log")
            srv = Server(bin_dir, path, threads, fa, log)
            try:
                results[label] = runs_for(srv, Pieces(path))
                results[label + "-bos"] = srv.post("/tokenize", {"content": "", "add_special": True,
                                                                  "parse_special": False})["tokens"]
                cmd = " ".join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in srv.cmd)
                cmd = cmd.replace(f"--port {srv.port}", "--port PORT")
                results[label + "-cmd"] = cmd.replace(path, m["file"])
            finally:
                srv.close()
        runs = results["t1-fa-off"]
        agree = {}
        for label, threads, fa in CONFIGS[1:]:
            agree[label] = []
            for a, b in zip(runs, results[label]):
                x, y = a["completion_ids"], b["completion_ids"]
                k = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]),
                         None if len(x) == len(y) else min(len(x), len(y)))
                check = {"server": f"-t {threads} -tb {threads} -fa {'on' if fa else 'off'}",
                         "first_different_step": k}
                if k is not None and k < len(x):
                    st = a["top5_logprobs_per_step"][k]
                    if st["top5"] and len(st["top5"]) > 1:
                        check["top1_top2_gap_there"] = round(st["top5"][0][1] - st["top5"][1][1], 6)
                    check["other_id_there"] = y[k] if k < len(y) else None
                a.setdefault("cross_checks", []).append(check)
                agree[label].append(k is None)
        same = ", ".join(f"{sum(v)} of {len(v)} runs with {lab}" for lab, v in agree.items())
        bos = results["t1-fa-off-bos"]
        bos_text = f"BOS (id {bos[0]}) added" if bos else "no BOS added"
        doc = {
            "what": (f"Greedy (temperature 0) continuations of {m['name']} by llama.cpp {commit} "
                     f"(vendored in llama-cpp-python 0.3.36 from PyPI; CPU build, Release, GGML_NATIVE), "
                     f"{N_PREDICT} new tokens, stop at EOS. llama-server /completion with the prompt "
                     f"sent as token ids, temperature 0, return_tokens, n_probs {N_PROBS} "
                     f"(logprobs of the full softmax before sampling), cache_prompt false. A step whose "
                     f"token ends the text inside a UTF-8 character has null token/logprob/top5: "
                     f"llama-server does not report those. "
                     f"Server: {results['t1-fa-off-cmd']}. Cross-checks: ids identical in {same}; "
                     f"each run's cross_checks give the first step where a configuration differs and "
                     f"the golden top-1/top-2 gap there. The thread count does not change llama.cpp's "
                     f"numbers; its CPU flash attention (F16 accumulation) does, by 0.1-0.2 in a "
                     f"logprob, enough to flip near-ties. A comparison should require equal ids up to "
                     f"the first step whose golden top-1/top-2 gap is below its tolerance and may stop "
                     f"there (min_top1_top2_gap is the smallest gap along the whole run)."),
            "model_sha256": sha256_file(path),
            "tokenize": (f"{bos_text} (tokenizer.ggml.add_bos_token); special tokens not parsed. "
                         "llama-server /tokenize with add_special=true, parse_special=false"
                         + ("; the last run (specials_parsed) is the model's chat template rendered by "
                            "llama-server /apply-template (add_generation_prompt) and tokenized with "
                            "parse_special=true" if runs and runs[-1].get("specials_parsed") else
                            "; the file has no chat template, so there is no chat run")),
            "runs": runs,
        }
        out = os.path.join(args.out_dir, m["out"])
        os.makedirs(args.out_dir, exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"{key}: wrote {out}; ids agree across configs: {agree}; "
              f"min gaps {[r['min_top1_top2_gap'] for r in runs]}; stops {[r['stop'] for r in runs]}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
