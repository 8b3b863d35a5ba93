#!/usr/bin/env bash
# Runs the whole suite after `make test` has built it:
#   1. every unit test binary (build/tests/test_*),
#   2. the same tests built with ASan + UBSan (build/san/tests/test_*),
#   3. the interop checks (tests/interop/*.py, *.sh) with the reference venv,
#   4. each fuzz target over its committed corpus (no new inputs: a regression run).
# Each item counts as one passed or failed suite; the last line is the plain
# "N passed, N failed" summary. Exit status is non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
PY="$(bash scripts/pyenv.sh)"
export HONE_PY="$PY"
pass=0; fail=0; failed=()

run() { # name, command...
  local name="$1"; shift
  local t0=$SECONDS
  if "$@"; then pass=$((pass + 1)); echo "ok   $name ($((SECONDS - t0)) s)"
  else fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name ($((SECONDS - t0)) s)"; fi
}

for t in build/tests/test_*; do [ -x "$t" ] && run "unit/${t##*/}" "$t"; done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in build/san/tests/test_*; do [ -x "$t" ] && run "asan/${t##*/}" "$t"; done
for t in tests/interop/*.py; do [ -f "$t" ] && run "interop/${t##*/}" "$PY" "$t"; done
for t in tests/interop/*.sh; do [ -f "$t" ] && run "interop/${t##*/}" bash "$t"; done
for f in build/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  corpus="tests/corpus/${f##*/fuzz_}"
  [ -d "$corpus" ] && run "fuzz-corpus/${f##*/}" "$f" -runs=0 "$corpus"
done

[ ${#failed[@]} -eq 0 ] || printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
