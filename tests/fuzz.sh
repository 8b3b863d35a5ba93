#!/usr/bin/env bash
# fuzz.sh: runs every libFuzzer target for a while (`make fuzz FUZZ_SECONDS=N`).
#
#   bash tests/fuzz.sh [SECONDS] [build/fuzz/fuzz_NAME ...]
#
# Each target (default: every build/fuzz/fuzz_*) runs as ONE process for SECONDS
# (default 60), starting from a scratch copy of its committed corpus
# tests/corpus/NAME/, so the inputs it discovers never land in the repository.
# fuzz/NAME.dict is used as a dictionary when present. -max_len is 4096 or the
# largest corpus file, whichever is bigger (FUZZ_MAX_LEN overrides it).
# It stops at the first crash (or leak, timeout, sanitizer report): the input is
# kept in build/fuzz/artifacts/NAME/ and the log in build/fuzz/logs/NAME.log. To
# keep a crasher as a regression, minimize it (fuzz_NAME -minimize_crash=1
# -runs=10000 FILE), add it to tests/corpus/NAME/ and give it a line in
# EXPECTED.tsv. One summary line per target; exit status non-zero on any crash.
set -u
cd "$(dirname "$0")/.."
secs="${1:-60}"
[ $# -gt 0 ] && shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in build/fuzz/fuzz_*; do [ -x "$f" ] && targets+=("$f"); done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no targets in build/fuzz/ (run \`make fuzz\`)" >&2
  exit 1
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hone-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
mkdir -p build/fuzz/logs build/fuzz/artifacts

status=0 total_execs=0 total_secs=0
for f in "${targets[@]}"; do
  name="${f##*/fuzz_}"
  corpus="tests/corpus/$name"
  work="$scratch/$name"
  art="build/fuzz/artifacts/$name"
  log="build/fuzz/logs/$name.log"
  mkdir -p "$work" "$art"
  maxlen=4096
  if [ -d "$corpus" ]; then
    # the inputs only: the manifest and notes are not seeds
    find "$corpus" -type f ! -name '*.tsv' ! -name '*.md' -exec cp --backup=numbered {} "$work/" \;
    big="$(find "$work" -type f -printf '%s\n' | sort -n | tail -1)"
    [ -n "$big" ] && [ "$big" -gt "$maxlen" ] && maxlen="$big"
  fi
  maxlen="${FUZZ_MAX_LEN:-$maxlen}"
  seeds="$(find "$work" -type f | wc -l)"
  dict=()
  [ -f "fuzz/$name.dict" ] && dict=("-dict=fuzz/$name.dict")
  t0=$SECONDS
  "$f" -max_total_time="$secs" -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "$work" >"$log" 2>&1
  rc=$?
  dt=$((SECONDS - t0))
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  execs="${execs:-0}"
  grown="$(find "$work" -type f | wc -l)"
  total_execs=$((total_execs + execs)) total_secs=$((total_secs + dt))
  if [ $rc -eq 0 ]; then
    printf 'ok    fuzz_%-14s %12s execs  %5d s  %8s exec/s  corpus %d -> %d\n' "$name" "$execs" \
      "$dt" "$((execs / (dt > 0 ? dt : 1)))" "$seeds" "$grown"
  else
    printf 'CRASH fuzz_%-14s %12s execs  %5d s  (exit %d)\n' "$name" "$execs" "$dt" "$rc"
    grep -E 'ERROR|SUMMARY|runtime error|^bad|^unexpected' "$log" | head -8 | sed 's/^/      /'
    found="$(ls -t "$art" 2>/dev/null | head -1)"
    [ -n "$found" ] && echo "      input: $art/$found  (log: $log)"
    status=1
    break
  fi
done
echo "fuzzed ${#targets[@]} target(s): $total_execs executions in $total_secs s"
exit $status
