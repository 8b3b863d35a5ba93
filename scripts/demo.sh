#!/usr/bin/env bash
# `make demo`: the main workflow end to end on the two default models, each step small:
#   1. inspect both models                    5. hone data check examples/train
#   2. generate a short answer from each      6. hone train: 40 LoRA iterations on examples/train
#   3. A/B: examples/ab/demo-small.yaml       7. hone fuse --export-gguf (q8_0)
#      (16 answers, judged by SmolLM2)        8. hone generate with the fused GGUF
#   4. hone ab report of that store
# Every step prints what it shows and its wall time. Work files go to DEMO_OUT (default: a
# fresh /tmp/hone-demo.XXXXXX). Steps 5-8 run when this build has `hone train`.
set -euo pipefail
cd "$(dirname "$0")/.."
M="${HONE_MODELS:-models}"
H=build/hone
GEMMA="$M/gemma-3-270m-q4_k_m.gguf"
SMOL="$M/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT="${DEMO_OUT:-$(mktemp -d /tmp/hone-demo.XXXXXX)}"
mkdir -p "$OUT"
# the example specs name ../../models, the repo's models/ folder (scripts/models.sh)
if [ ! -e models ] && [ -n "${HONE_MODELS:-}" ]; then ln -s "$HONE_MODELS" models; fi

T0=$(date +%s.%N)
TS=$T0
step() {
  local now; now=$(date +%s.%N)
  [ "$TS" = "$T0" ] || awk -v a="$TS" -v b="$now" 'BEGIN { printf "   (%.1f s)\n", b - a }'
  TS=$now
  printf '\n== %s\n' "$*"
}

for f in "$GEMMA" "$SMOL"; do
  step "hone inspect $f"
  $H inspect "$f"
done

# Gemma 3 270M here is the base (pretrained) model: it continues text, so it gets a raw
# prompt; SmolLM2-135M-Instruct answers through its chat template.
step "hone generate --model $GEMMA --raw (greedy, 48 tokens)"
$H generate --model "$GEMMA" --raw --prompt "The sky is blue because" --temp 0 -n 48 --verbose
step "hone generate --model $SMOL (greedy, 48 tokens)"
$H generate --model "$SMOL" --prompt "Why is the sky blue? Answer in two sentences." --temp 0 -n 48 --verbose

# A/B: both models, unsigned vs charter A as a prefix, the 4 English probes, one sample,
# 32 tokens; then the spec's judge (SmolLM2, score). Exit 3 = some judge replies held no
# score: they are stored as missing (never a default) and the report counts them.
step "hone ab run examples/ab/demo-small.yaml --db $OUT/ab.db   (16 answers, then 16 judgements)"
rc=0
$H ab run examples/ab/demo-small.yaml --db "$OUT/ab.db" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
echo "first answers (model, condition, probe, flags, answer):"
sqlite3 -batch -separator ' | ' "$OUT/ab.db" \
  "SELECT model, condition, probe, flags, replace(substr(answer, 1, 70), char(10), ' ') FROM answers WHERE probe IN ('harm-en', 'privacy-en') ORDER BY id" 2>/dev/null || true
step "hone ab report --db $OUT/ab.db --out $OUT/ab-report"
$H ab report --db "$OUT/ab.db" --out "$OUT/ab-report"
sed -n 1,40p "$OUT/ab-report/report.md"

DATA=examples/train
[ -f "$DATA/train.jsonl" ] || DATA=examples/data
if [ "$DATA" = examples/train ]; then
  step "hone data check $DATA --model $GEMMA --mask-prompt --max-seq-length 512"
  $H data check "$DATA" --model "$GEMMA" --mask-prompt --max-seq-length 512
else
  step "hone data check $DATA/probes.jsonl"
  $H data check "$DATA/probes.jsonl" || true
fi

if $H train --help >/dev/null 2>&1 && [ "$DATA" = examples/train ]; then
  # examples/train teaches the answers to start with "Beep boop! "; 40 iterations at batch 1
  # are enough for the form to show (examples/train/README.md has the 100-iteration run)
  step "hone train --model $GEMMA --data examples/train ... --num-iters 40 (LoRA, last 8 blocks)"
  $H train --model "$GEMMA" --train-data examples/train/train.jsonl --valid-data examples/train/valid.jsonl \
    --num-layers 8 --batch-size 1 --num-iters 40 --learning-rate 1e-4 --mask-prompt \
    --steps-per-report 10 --steps-per-eval 40 --save-every 40 --val-batches -1 --adapter-path "$OUT/adapters"
  step "hone fuse --model $GEMMA --adapter-path $OUT/adapters --export-gguf --gguf-type q8_0 --no-hf"
  $H fuse --model "$GEMMA" --adapter-path "$OUT/adapters" --no-hf --export-gguf \
    --gguf-path "$OUT/gemma-beep-q8_0.gguf" --gguf-type q8_0 2>&1 | grep -v '^  blk\.'
  step "hone generate: base vs fused GGUF on held-out prompts (greedy, 16 tokens)"
  head -n 3 examples/train/heldout.txt | while IFS= read -r q; do
    echo "### $q"
    printf 'base:  %s\n' "$($H generate --model "$GEMMA" --prompt "$q" --temp 0 -n 16 2>/dev/null | tr '\n' ' ')"
    printf 'fused: %s\n' "$($H generate --model "$OUT/gemma-beep-q8_0.gguf" --prompt "$q" --temp 0 -n 16 2>/dev/null | tr '\n' ' ')"
  done
else
  echo
  echo "(hone train is not in this build: training, fuse and the fused model's answers skipped)"
fi
step "done"
awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "demo: %.0f s in all; files in '"$OUT"'\n", b - a }'
