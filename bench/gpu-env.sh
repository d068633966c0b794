# gpu-env.sh: sourced by the GPU machine's scripts (gpu-check.sh, gpu-tune.sh)
# with ROOT (the repository) and WORK (scratch) set: finds cuBLAS, unpacks the
# carried binaries (.devpack/bin.tar.xz: a CUDA binary is ~15 MB of device code
# and a call carries 64 MiB at most) into .devdata/bin, and puts the carried
# shared libraries the system lacks on LD_LIBRARY_PATH. Sets BIN.
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-13.0/lib64; do
    [ -e "$d/libcublas.so.13" ] && CUDALIB=$d && break
done
if [ -z "${CUDALIB:-}" ]; then
    CUDALIB=$(dirname "$(find / -name 'libcublas.so.13' -not -path '*/proc/*' 2>/dev/null | head -1)")
fi
export LD_LIBRARY_PATH="${CUDALIB:-}:${LD_LIBRARY_PATH:-}"
# The carried binaries may come packed (.devpack/bin.tar.xz: a CUDA binary is
# ~15 MB of device code, and a call carries 64 MiB at most).
if [ -f "$ROOT/.devpack/bin.tar.xz" ]; then
    mkdir -p "$ROOT/.devdata/bin"
    python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" \
        "$ROOT/.devpack/bin.tar.xz" "$ROOT/.devdata/bin"
    [ -d "$ROOT/.devpack/lib" ] && cp -r "$ROOT/.devpack/lib" "$ROOT/.devdata/"
    [ -f "$ROOT/.devpack/stories260K.gguf" ] && cp "$ROOT/.devpack/stories260K.gguf" "$ROOT/.devdata/"
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
