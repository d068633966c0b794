#!/usr/bin/env bash
# Build the llama.cpp peer from the llama.cpp vendored inside the llama-cpp-python
# sdist on PyPI (pinned below). Nothing of llama.cpp enters the tracked tree: the
# sources and the build live in .peer/ (git-ignored).
#
# usage: bench/peer/build-llama-cpp.sh [--cuda] [--jobs N] [--targets "t1 t2 ..."]
#   --cuda      CUDA build for sm_90 (H100) into .peer/build-cuda (needs nvcc)
#   --amx       keep AMX in the -march=native build (off by default: the development
#               VM's CPU advertises AMX, but its kernel does not grant the tile data
#               state, and llama.cpp's AMX matmul dies on ldtilecfg)
#   --jobs N    parallel build jobs (default 2)
#   --targets   CMake targets to build (default: all the peer tools)
#   --pack      only write .peer/llama.cpp-VERSION-src.tar.gz: the vendored source
#               without models/, docs/, media/ and benches/ (~10 MB instead of the 77 MB
#               sdist), small enough to carry to the GPU machine; there the script
#               builds from it when no sdist is at hand
# env: PEER_DIR (default <repo>/.peer), LLCPP_PY_VERSION (default 0.3.36),
#      LLCPP_SDIST (path of an already downloaded sdist)
# Idempotent: download, extraction and configure happen once; rebuilding is a no-op
# when nothing changed. Prints where the binaries are.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PEER_DIR=${PEER_DIR:-$repo/.peer}
VERSION=${LLCPP_PY_VERSION:-0.3.36}
CUDA=0
AMX=0
PACK=0
JOBS=2
TARGETS="llama-bench llama-tokenize llama-completion llama-simple llama-cli llama-quantize llama-server"

while [ $# -gt 0 ]; do
    case "$1" in
        --cuda) CUDA=1 ;;
        --amx) AMX=1 ;;
        --pack) PACK=1 ;;
        --jobs) JOBS=$2; shift ;;
        --targets) TARGETS=$2; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

mkdir -p "$PEER_DIR/dl"
src=$PEER_DIR/llama.cpp-$VERSION
pack=$PEER_DIR/llama.cpp-$VERSION-src.tar.gz
if [ ! -f "$src/CMakeLists.txt" ] && [ "$PACK" = 0 ] && [ -f "$pack" ]; then
    echo "peer: extracting $pack"
    mkdir -p "$src" && tar xzf "$pack" -C "$src"
fi
sdist=${LLCPP_SDIST:-$PEER_DIR/dl/llama_cpp_python-$VERSION.tar.gz}
if [ ! -f "$sdist" ] && [ -f "/tmp/models/llcpp/llama_cpp_python-$VERSION.tar.gz" ]; then
    sdist=/tmp/models/llcpp/llama_cpp_python-$VERSION.tar.gz
fi
if [ ! -f "$sdist" ] && [ ! -f "$src/CMakeLists.txt" ]; then
    echo "peer: downloading llama-cpp-python==$VERSION sdist from PyPI"
    python3 -m pip download --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$PEER_DIR/dl"
    sdist=$PEER_DIR/dl/llama_cpp_python-$VERSION.tar.gz
fi

if [ ! -f "$src/CMakeLists.txt" ]; then
    echo "peer: extracting vendor/llama.cpp from $sdist"
    rm -rf "$src.tmp" && mkdir -p "$src.tmp"
    tar xzf "$sdist" -C "$src.tmp" --strip-components=3 "llama_cpp_python-$VERSION/vendor/llama.cpp"
    sha256sum "$sdist" > "$src.tmp/SDIST.sha256"
    mv "$src.tmp" "$src"
fi
# The llama.cpp commit this sdist vendors, from the sdist's CHANGELOG.
if [ ! -f "$src/LLAMA_CPP_COMMIT" ]; then
    tar xzf "$sdist" -O "llama_cpp_python-$VERSION/CHANGELOG.md" \
        | sed -n "/^## \[$VERSION\]/,/^## \[/p" | grep -o 'llama.cpp@[0-9a-f]*' | head -1 \
        | sed 's/.*@//' > "$src/LLAMA_CPP_COMMIT" || true
fi

if [ "$PACK" = 1 ]; then
    tar czf "$pack" -C "$src" --exclude=./models --exclude=./docs --exclude=./media \
        --exclude=./benches --exclude=./.git .
    echo "peer: wrote $pack ($(du -h "$pack" | cut -f1)); carry it to $pack on the other machine"
    exit 0
fi

if [ "$CUDA" = 1 ]; then
    build=$PEER_DIR/build-cuda
    extra=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
else
    build=$PEER_DIR/build-cpu
    extra=(-DGGML_CUDA=OFF)
fi

# GCC: explicit -mno-X placed before -march=native wins over what native implies.
noamx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
[ "$AMX" = 1 ] && noamx=""
extra+=("-DCMAKE_C_FLAGS=$noamx" "-DCMAKE_CXX_FLAGS=$noamx")

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
# Configure every time (a no-op when nothing changed), so option changes here apply.
[ -f "$build/CMakeCache.txt" ] && gen=()
cmake -S "$src" -B "$build" "${gen[@]}" \
        -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=ON \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON \
        -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
        -DBUILD_SHARED_LIBS=OFF \
        "${extra[@]}" > "$build.configure.log" || { cat "$build.configure.log"; exit 1; }

# Only build targets this llama.cpp version has.
have=$(cmake --build "$build" --target help 2>/dev/null | tr ' :' '\n\n' || true)
todo=()
for t in $TARGETS; do
    if grep -qx "$t" <<<"$have"; then todo+=("$t"); else echo "peer: target $t not in this version, skipped"; fi
done
if [ ${#todo[@]} -eq 0 ]; then
    echo "peer: none of the targets ($TARGETS) exists in this version" >&2
    exit 1
fi
cmake --build "$build" -j "$JOBS" --target "${todo[@]}"

echo "peer: llama.cpp $(cat "$src/LLAMA_CPP_COMMIT" 2>/dev/null) vendored in llama-cpp-python $VERSION (sdist sha256 $(cut -c1-16 "$src/SDIST.sha256")...)"
echo "peer: build $build"
for t in "${todo[@]}"; do
    [ -x "$build/bin/$t" ] && echo "  $build/bin/$t"
done
