# gpu-env.sh: sourced by the GPU machine's scripts (gpu-check.sh, gpu-tune.sh)
# with ROOT (the repository) and WORK (scratch) set: finds cuBLAS, unpacks the
# carried binaries (a CUDA binary is ~15 MB of device code and a call carries
# 64 MiB at most) into .devdata, and puts the carried shared libraries the
# system lacks on LD_LIBRARY_PATH. Sets BIN.
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-13.0/lib64; do
    [ -e "$d/libcublas.so.13" ] && CUDALIB=$d && break
done
if [ -z "${CUDALIB:-}" ]; then
    CUDALIB=$(dirname "$(find / -name 'libcublas.so.13' -not -path '*/proc/*' 2>/dev/null | head -1)")
fi
export LD_LIBRARY_PATH="${CUDALIB:-}:${LD_LIBRARY_PATH:-}"
# The carried binaries may come packed: .devpack/devdata.tar.xz holds .devdata's
# bin/, lib/ and stories260K.gguf (xz -9: the binaries share most of their
# device code, so 80 MB pack into ~12).
if [ -f "$ROOT/.devpack/devdata.tar.xz" ]; then
    mkdir -p "$ROOT/.devdata"
    python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" \
        "$ROOT/.devpack/devdata.tar.xz" "$ROOT/.devdata"
fi
BIN=$ROOT/.devdata/bin
if [ -x "$BIN/inferd" ] && [ -d "$ROOT/.devdata/lib" ]; then
    # only the libraries the system lacks, so the system's own stay first
    mkdir -p "$WORK/lib"
    for f in "$ROOT"/.devdata/lib/*; do
        b=$(basename "$f")
        ldconfig -p | grep -q "^\s*$b " || ln -sf "$f" "$WORK/lib/$b"
    done
    export LD_LIBRARY_PATH="$WORK/lib:$LD_LIBRARY_PATH"
fi
