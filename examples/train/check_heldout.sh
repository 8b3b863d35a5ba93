#!/usr/bin/env bash
# check_heldout.sh MODEL [ADAPTER_DIR]: greedy answers to examples/train/heldout.txt with and
# without the adapter; counts the answers that start with the trained phrase "Beep boop!".
set -u
model=${1:?usage: check_heldout.sh MODEL [ADAPTER_DIR]}
ad=${2:-adapters}
here=$(cd "$(dirname "$0")" && pwd)
hone=${HONE_BIN:-$here/../../build/hone}
nb=0; na=0; n=0
while IFS= read -r q; do
    [ -z "$q" ] && continue
    n=$((n + 1))
    b=$("$hone" generate --model "$model" --temp 0 -n 24 --prompt "$q" 2>/dev/null | tr '\n' ' ')
    a=$("$hone" generate --model "$model" --adapter-path "$ad" --temp 0 -n 24 --prompt "$q" 2>/dev/null | tr '\n' ' ')
    printf '### %s\nbase:    %s\nadapter: %s\n' "$q" "$b" "$a"
    case "$b" in "Beep boop!"*) nb=$((nb + 1)) ;; esac
    case "$a" in "Beep boop!"*) na=$((na + 1)) ;; esac
done < "$here/heldout.txt"
echo "starts with 'Beep boop!': base $nb/$n, adapter $na/$n"
