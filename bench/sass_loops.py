#!/usr/bin/env python3
"""sass_loops.py OBJ [NAME_SUBSTRING]: the main loop of each kernel in a CUDA
object, from its disassembly: how many instructions it holds and of which kind.

The main loop is the widest backward branch whose span holds the kernel's
tensor-core or dot-product instructions (HMMA / IMMA / IDP). Counts are static:
instructions in the loop body, not executed ones; a loop that runs its body
once per k step tells how much of each step is arithmetic and how much is
address work. bench/RESULTS.md cites it for cuda_mmf.cu's pipelined kernel
(604 -> 269 instructions in its 9..16-row Q4_0 loop).

cuobjdump is not in the Debian CUDA packages this project uses; it comes from
PyPI (`pip install nvidia-cuda-cuobjdump`: the binary lands in
site-packages/nvidia/cu13/bin), or from a full CUDA toolkit. CUOBJDUMP names it.
The object: the build's own, e.g.
build/src/backend/cuda/CMakeFiles/inferd_cuda.dir/cuda_mmf.cu.o.
"""
import os
import re
import subprocess
import sys

INSN = re.compile(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);")
BRANCH = re.compile(r"BRA (0x[0-9a-f]+)")
MATH = ("HMMA", "IMMA", "IDP")
KINDS = {
    "mma/dp4a": MATH,
    "global loads": ("LDG", "LDGSTS"),
    "shared loads": ("LDS",),
    "half ops": ("HADD2", "HMUL2", "HFMA2"),
    "integer / address": ("IMAD", "IADD", "LEA", "SHF", "LOP3", "PRMT", "ISETP", "SEL"),
}


def kernels(sass):
    name, body = None, []
    for line in sass.splitlines():
        if "Function :" in line:
            if name:
                yield name, body
            name, body = line.split("Function :")[1].strip(), []
            continue
        m = INSN.match(line)
        if m and name:
            body.append((int(m.group(1), 16), m.group(2)))
    if name:
        yield name, body


def main_loop(body):
    math = [a for a, t in body if any(k in t for k in MATH)]
    best = None
    for a, t in body:
        m = BRANCH.search(t)
        if not m:
            continue
        target = int(m.group(1), 16)
        if target < a and any(target <= x <= a for x in math):
            if best is None or a - target > best[1] - best[0]:
                best = (target, a)
    return [t for a, t in body if best and best[0] <= a <= best[1]]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tool = os.environ.get("CUOBJDUMP", "cuobjdump")
    try:
        sass = subprocess.run([tool, "-sass", sys.argv[1]], check=True, capture_output=True,
                              text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"sass_loops: {tool} -sass {sys.argv[1]} failed: {e}")
    want = sys.argv[2] if len(sys.argv) > 2 else ""
    for name, body in kernels(sass):
        if want not in name:
            continue
        loop = main_loop(body)
        if not loop:
            continue
        counts = ", ".join(f"{k} {sum(any(p in t for p in ps) for t in loop)}"
                           for k, ps in KINDS.items())
        print(f"{name}\n    loop {len(loop)} instructions: {counts}")


if __name__ == "__main__":
    main()
