#!/usr/bin/env bash
# Creates (once) the Python virtual environment that reference and interop
# checks use: gguf-py, numpy, safetensors. It lives in a cache folder outside
# the clone; the C build never needs it. Prints the venv's python path.
set -euo pipefail
CACHE="${HONE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hone}"
VENV="$CACHE/venv"
STAMP="$VENV/.hone-reqs-v1"
REQS=(numpy gguf==0.19.0 safetensors)
if [ ! -f "$STAMP" ]; then
  mkdir -p "$CACHE"
  echo "pyenv: creating $VENV (${REQS[*]})" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${REQS[@]}" >&2
  touch "$STAMP"
fi
echo "$VENV/bin/python"
