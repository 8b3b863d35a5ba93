#!/usr/bin/env bash
# `make demo`: the main workflow end to end, as far as it exists so far.
# Today: fetch the default models, inspect them, and generate a short answer from each.
set -euo pipefail
cd "$(dirname "$0")/.."
M="${HONE_MODELS:-models}"
for f in "$M/gemma-3-270m-q4_k_m.gguf" "$M/SmolLM2-135M-Instruct.Q4_1.gguf"; do
  echo "== hone inspect $f"
  build/hone inspect "$f"
  echo
done
for f in "$M/gemma-3-270m-q4_k_m.gguf" "$M/SmolLM2-135M-Instruct.Q4_1.gguf"; do
  echo "== hone generate --model $f (greedy, 48 tokens)"
  build/hone generate --model "$f" --prompt "Why is the sky blue? Answer in two sentences." \
    --temp 0 -n 48 --verbose
  echo
done
