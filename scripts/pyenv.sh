#!/usr/bin/env bash
# Creates (once) the Python virtual environment that reference and interop
# checks use: gguf-py, numpy, safetensors, and the openai and ollama clients
# (the server interop tests). It lives in a cache folder outside
# the clone; the C build never needs it. Prints the venv's python path.
set -euo pipefail
CACHE="${HONE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hone}"
VENV="$CACHE/venv"
STAMP="$VENV/.hone-reqs-v2"
REQS=(numpy gguf==0.19.0 safetensors openai ollama)
if [ ! -f "$STAMP" ]; then
  mkdir -p "$CACHE"
  echo "pyenv: creating $VENV (${REQS[*]})" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${REQS[@]}" >&2
  touch "$STAMP"
fi
echo "$VENV/bin/python"
