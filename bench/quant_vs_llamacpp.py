#!/usr/bin/env python3
"""Quantization error of inferd's reference quantizers beside llama.cpp's, on the
same weights (a comparison for bench/RESULTS.md, not a test: it needs the peer
built by bench/peer/build-llama-cpp.sh).

A synthetic llama model (`inferd synth --preset small --type F32`, rows of 256) gets
its matrices refilled with Gaussian weights of per-row scale (rms ~0.02, a few 20x
outliers), then every format is made twice: by `llama-quantize --pure` (no
importance matrix) and by `quant_tool quant`. Both are decoded with
gguf.quants.dequantize and compared with the F32 weights: rms error relative to
the weights' rms over all matrices, and for the one-pass formats the share of
identical bytes.

usage: bench/quant_vs_llamacpp.py BUILD_DIR [LLAMA_QUANTIZE]
"""
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, quants

ROOT = pathlib.Path(__file__).resolve().parents[1]
# llama-quantize type name -> ggml type of its matrices under --pure
TYPES = {"Q8_0": T.Q8_0, "Q5_1": T.Q5_1, "Q5_0": T.Q5_0, "Q4_1": T.Q4_1, "Q4_0": T.Q4_0,
         "Q6_K": T.Q6_K, "Q5_K_S": T.Q5_K, "Q4_K_S": T.Q4_K, "Q3_K_S": T.Q3_K, "Q2_K": T.Q2_K}


def main():
    build = pathlib.Path(sys.argv[1])
    lq = sys.argv[2] if len(sys.argv) > 2 else ROOT / ".peer/build-cpu/bin/llama-quantize"
    inferd, tool = build / "src/cli/inferd", build / "tests/tools/quant_tool"
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="quant_vs_llamacpp."))
    try:
        f32 = tmp / "f32.gguf"
        subprocess.run([inferd, "synth", "--preset", "small", "--type", "F32", "-o", f32],
                       check=True, capture_output=True)
        rng = np.random.default_rng(1)
        weights = {}
        r = GGUFReader(f32, "r+")
        for t in r.tensors:
            if len(t.data.shape) == 2 and t.tensor_type == T.F32:
                x = rng.standard_normal(t.data.shape) * np.exp(rng.uniform(-0.5, 0.5, (t.data.shape[0], 1)))
                x[rng.random(x.shape) < 0.001] *= 20
                t.data[...] = (0.02 * x).astype(np.float32)
                weights[t.name] = np.array(t.data, dtype=np.float32)
        r.data.flush()
        del r
        print(f"{len(weights)} matrices, {sum(w.size for w in weights.values())} weights")
        print("| type | llama.cpp rel. rms error | inferd rel. rms error | inferd / llama.cpp | same bytes |")
        print("| --- | --- | --- | --- | --- |")
        for lname, qtype in TYPES.items():
            out = tmp / f"{lname}.gguf"
            subprocess.run([lq, "--pure", f32, out, lname, "1"], check=True, capture_output=True)
            se_l = se_i = sx = 0.0
            same = total = 0
            for t in GGUFReader(out).tensors:
                if t.name not in weights or t.tensor_type != qtype:
                    continue
                x = weights[t.name]
                theirs = np.asarray(t.data).view(np.uint8).reshape(-1)
                (tmp / "x.f32").write_bytes(x.tobytes())
                subprocess.run([tool, "quant", qtype.name, tmp / "x.f32", tmp / "q.bin"], check=True)
                ours = np.fromfile(tmp / "q.bin", dtype=np.uint8)
                yl = quants.dequantize(theirs, qtype).reshape(-1).astype(np.float64)
                yi = quants.dequantize(ours, qtype).reshape(-1).astype(np.float64)
                xd = x.reshape(-1).astype(np.float64)
                se_l += ((yl - xd) ** 2).sum()
                se_i += ((yi - xd) ** 2).sum()
                sx += (xd ** 2).sum()
                same += int((ours == theirs).sum())
                total += ours.size
            el, ei = np.sqrt(se_l / sx), np.sqrt(se_i / sx)
            print(f"| {qtype.name} | {100 * el:.3f}% | {100 * ei:.3f}% | {ei / el:.3f} | "
                  f"{100 * same / max(total, 1):.1f}% |")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
