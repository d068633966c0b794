#!/usr/bin/env python3
"""Teacher-forced top-5 logprobs from llama-server, in the golden JSON layout.

For each run of tests/golden/llamacpp-smollm2-greedy.json and each step k < K, sends
prompt_ids + completion_ids[:k] to /completion (n_predict 1, n_probs 5, temperature 0,
no prompt cache) so every configuration is compared on the same token path.
usage: teacher-forced.py MODEL.gguf OUT.json K [extra llama-server args, e.g. -ctk f32 -ctv f32]
See docs/llamacpp-parity.md.
"""
import json, sys, os, importlib.util, subprocess, time, urllib.request
spec = importlib.util.spec_from_file_location("mg", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-goldens.py"))
mg = importlib.util.module_from_spec(spec); spec.loader.exec_module(mg)
model, out, K = sys.argv[1], sys.argv[2], int(sys.argv[3]); extra = sys.argv[4:]
# start with extra args by temporarily wrapping Popen
orig = subprocess.Popen
def P(cmd, **kw): return orig(cmd + extra, **kw)
mg.subprocess.Popen = P
srv = mg.Server(os.environ.get("PEER_BIN", os.path.join(mg.REPO, ".peer/build-cpu/bin")), model, 2, False, out + ".log")
mg.subprocess.Popen = orig
g = json.load(open(os.path.join(mg.REPO, "tests/golden/llamacpp-smollm2-greedy.json")))
runs = []
try:
    for r in g["runs"]:
        steps = []
        for k in range(min(K, len(r["completion_ids"]))):
            ids = r["prompt_ids"] + r["completion_ids"][:k]
            res = srv.post("/completion", {"prompt": ids, "n_predict": 1, "temperature": 0, "n_probs": 5,
                                           "return_tokens": True, "cache_prompt": False})
            p = res.get("completion_probabilities", [])
            if p:
                steps.append({"id": p[0]["id"], "top5": [[t["id"], t["logprob"]] for t in p[0]["top_logprobs"]]})
            else:
                steps.append({"id": None, "top5": None})
        runs.append({"prompt_ids": r["prompt_ids"], "completion_ids": r["completion_ids"][:K], "top5_logprobs_per_step": steps})
finally:
    srv.close()
json.dump({"runs": runs}, open(out, "w"))
