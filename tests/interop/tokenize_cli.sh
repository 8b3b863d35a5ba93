#!/usr/bin/env bash
# tokenize_cli.sh: `hone tokenize` end to end on llama.cpp's gpt-2 and llama-spm test
# vocabularies: ids for an argument and for stdin, --count, --pieces, --json,
# --special, --bos, --decode, and the error for a missing model. Expected ids are
# llama.cpp's own (the .out files: "Hello world" is line 12 of each).
set -u
cd "$(dirname "$0")/../.."
TD="${HONE_TESTDATA:-../shared/testdata}/tokenizer"
if [ ! -d "$TD" ]; then echo "skipped: $TD not found"; exit 0; fi
H=build/hone
fail=0
check() { # name, expected, actual
  if [ "$2" == "$3" ]; then echo "ok   $1: $3"; else echo "FAIL $1: expected '$2', got '$3'"; fail=1; fi
}
G="$TD/ggml-vocab-gpt-2.gguf"; S="$TD/ggml-vocab-llama-spm.gguf"
want_g="$(sed -n 12p "$G.out" | sed 's/^ //')"
want_s="$(sed -n 12p "$S.out" | sed 's/^ //')"
check "gpt-2 ids (argument)" "$want_g" "$($H tokenize --model "$G" 'Hello world')"
check "gpt-2 ids (stdin)" "$want_g" "$(printf 'Hello world' | $H tokenize --model "$G" -)"
check "llama-spm ids" "$want_s" "$($H tokenize --model "$S" --ids 'Hello world')"
check "llama-spm --bos" "1 $want_s" "$($H tokenize --model "$S" --bos 'Hello world')"
check "--count" "2" "$($H tokenize --model "$G" --count 'Hello world')"
check "--pieces" "$(printf '15496\tHello\n995\tĠworld')" "$($H tokenize --model "$G" --pieces 'Hello world')"
check "--json" '{"count": 2, "ids": [15496, 995], "pieces": ["Hello", "\u0120world"]}' \
  "$($H tokenize --model "$G" --json 'Hello world' | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')"
check "--special off: text stays text" "<s> test" "$($H tokenize --model "$S" --decode "$($H tokenize --model "$S" '<s> test')")"
check "--special on" "1" "$($H tokenize --model "$S" --special '<s>' | cut -d' ' -f1)"
check "--decode" "Hello world" "$($H tokenize --model "$G" --decode "$want_g")"
$H tokenize --model /nonexistent.gguf x 2>/tmp/hone-tok-err.$$; rc=$?
check "missing model exit status" "1" "$rc"
grep -q "/nonexistent.gguf" /tmp/hone-tok-err.$$ && echo "ok   error names the file" || { echo "FAIL error message"; fail=1; }
rm -f /tmp/hone-tok-err.$$
$H tokenize --model "$G" --frobnicate x 2>/dev/null; check "unknown flag exit status" "2" "$?"
# --chat on Gemma 3 (when the model is there): the assistant turn "Hello! How can I
# help?" + <end_of_turn> is 8 tokens, all supervised, nothing else is.
GM="${HONE_MODELS:-models}/gemma-3-270m-q4_k_m.gguf"
if [ -f "$GM" ]; then
  conv="$(mktemp)"
  printf '%s' '[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi there"},{"role":"assistant","content":"Hello! How can I help?"},{"role":"user","content":"Nothing."}]' > "$conv"
  check "--chat gemma" "34 tokens, 8 supervised" "$($H tokenize --model "$GM" --chat "$conv" --gen --count)"
  check "--chat supervised pieces" "Hello! How can I help?<end_of_turn>" \
    "$($H tokenize --model "$GM" --chat "$conv" | grep '^\*' | cut -f2 | tr -d '\n' | sed 's/▁/ /g')"
  rm -f "$conv"
else
  echo "skipped --chat checks: $GM not found"
fi
exit $fail
