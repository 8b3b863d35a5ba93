#!/usr/bin/env bash
# tok_speed.sh: single-thread tokenizer speed, hone side by side with the reference
# peers, in one run on the same text: 1 MB of English words and 1 MB of mixed
# multilingual text (Russian, Chinese, Japanese, Arabic, Hindi, emoji), each as one
# string, Gemma 3 and SmolLM2 vocabularies.
#   usage: bench/tok_speed.sh [RUNS]    (needs build/hone and the models;
#   peers run when $TOKREF_PY is a python with sentencepiece, protobuf, tokenizers,
#   gguf: see bench/tok_peers.py). llama.cpp itself: bench/tok_vs_llamacpp.py
#   (llama-cpp-python), results in bench/RESULTS.md.
set -eu
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
MODELS="${HONE_MODELS:-models}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
python3 - "$TMP" <<'PY'
import random, sys
d = sys.argv[1]
words = ("the quick brown fox jumps over a lazy dog while some people are reading books "
         "about history and science in the library").split()
r = random.Random(1)
open(f"{d}/en.txt", "w").write(" ".join(r.choice(words) for _ in range(200000))[:1000000])
ml = ("Привет мир, как дела? 你好世界，这是测试。こんにちは世界。 مرحبا بالعالم "
      "नमस्ते दुनिया Hello world 🚀 ")
open(f"{d}/ml.txt", "w").write((ml * 20000)[:500000])
PY
for f in en ml; do
  echo "== $f.txt"
  for m in gemma-3-270m-q4_k_m SmolLM2-135M-Instruct.Q4_1; do
    printf 'hone %-32s ' "$m:"
    build/hone tokenize --bench "$RUNS" --model "$MODELS/$m.gguf" - < "$TMP/$f.txt"
  done
  if [ -n "${TOKREF_PY:-}" ]; then "$TOKREF_PY" bench/tok_peers.py "$MODELS" "$TMP/$f.txt" "$RUNS"; fi
done
