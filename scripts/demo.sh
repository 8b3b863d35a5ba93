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
# Gemma 3 270M here is the base (pretrained) model: it continues text, so it gets a raw
# prompt; SmolLM2-135M-Instruct answers through its chat template.
echo "== hone generate --model $M/gemma-3-270m-q4_k_m.gguf --raw (greedy, 48 tokens)"
build/hone generate --model "$M/gemma-3-270m-q4_k_m.gguf" --raw \
  --prompt "The sky is blue because" --temp 0 -n 48 --verbose
echo
echo "== hone generate --model $M/SmolLM2-135M-Instruct.Q4_1.gguf (greedy, 48 tokens)"
build/hone generate --model "$M/SmolLM2-135M-Instruct.Q4_1.gguf" \
  --prompt "Why is the sky blue? Answer in two sentences." --temp 0 -n 48 --verbose
