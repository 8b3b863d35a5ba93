#!/usr/bin/env bash
# bench/ab_demo.sh: issue 8's end-to-end demonstration, on the two default local models:
# examples/ab/demo-local.yaml, 2 models x 4 conditions x 12 probes x 3 samples = 288
# answers (48 tokens each), scored by SmolLM2.
#
#   all (default): `hone ab run --no-judge` into a fresh store, `kill -9` once half the
#         cells are stored, the same command again, then the check: exactly one answer per
#         cell (288 rows, 288 distinct cells, none twice, no error rows, the killed run's
#         rows kept); then `hone ab judge` and `hone ab report`. Every step timed (wall s);
#         prints the counts and the head of report.md.
#   answers, judge: the two halves of all (the answers with the kill check; judge + report
#         of that store).
#   full: the same experiment without the kill: run, judge, report, timed.
#
# usage: bench/ab_demo.sh [all|answers|judge|full]
# Environment: HONE_MODELS (folder of the models; linked as ./models when that is absent),
# AB_DEMO_OUT (work folder, default /tmp/hone-ab-demo). Needs build/hone and sqlite3.
# Exit status non-zero when a step fails or a check does not hold.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
HONE="$ROOT/build/hone"
SPEC=examples/ab/demo-local.yaml
OUT="${AB_DEMO_OUT:-/tmp/hone-ab-demo}"
CELLS=288
mkdir -p "$OUT"
[ -x "$HONE" ] || { echo "ab_demo: build/hone missing (make)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "ab_demo: needs the sqlite3 command" >&2; exit 1; }
# the spec names ../../models (the repo's models/ folder, as scripts/models.sh installs it)
if [ ! -e models ] && [ -n "${HONE_MODELS:-}" ]; then ln -s "$HONE_MODELS" models; fi
for f in models/gemma-3-270m-q4_k_m.gguf models/SmolLM2-135M-Instruct.Q4_1.gguf; do
  [ -s "$f" ] || { echo "ab_demo: $f missing (make models, or set HONE_MODELS)" >&2; exit 1; }
done

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
q() { sqlite3 -batch -noheader "$1" "$2"; }

summary() { # $1 = db
  local db="$1"
  echo "answers: $(q "$db" "SELECT count(*) || ' rows, ' || count(DISTINCT model||'/'||condition||'/'||probe||'/'||sample) || ' cells, ' || sum(error IS NOT NULL) || ' errors, ' || sum(flags & 1 != 0) || ' cut off, ' || sum(flags & 4 != 0) || ' refusals, ' || sum(flags & 8 != 0) || ' off-language, mean ' || printf('%.1f', avg(answer_tokens)) || ' answer tokens' FROM answers")"
  echo "seconds per answer by model: $(q "$db" "SELECT group_concat(model || ' ' || printf('%.2f', l), ', ') FROM (SELECT model, avg(latency_s) l FROM answers GROUP BY model)")"
  echo "judgements: $(q "$db" "SELECT count(*) || ' rows, ' || sum(score IS NOT NULL) || ' scored, ' || sum(score IS NULL) || ' missing, mean score ' || printf('%.2f', avg(score)) || ', mean judge latency ' || printf('%.2f', avg(latency_s)) || ' s' FROM judgements")"
}

judge_report() { # $1 = db
  local db="$1" t rc=0
  # two judge sessions (each with half the cores): on a shared machine this takes a
  # bigger share of the CPU; on a quiet one it changes little
  echo "== hone ab judge $SPEC --db $db --concurrency 2"
  t=$(now); "$HONE" ab judge "$SPEC" --db "$db" --concurrency 2 || rc=$?; echo "ab judge: $(since "$t") s wall (exit $rc)"
  # exit 3 = some judge replies had no readable score: stored as missing, reported as such
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
  echo "== hone ab report --db $db --out $OUT/report"
  t=$(now); "$HONE" ab report --db "$db" --out "$OUT/report"; echo "ab report: $(since "$t") s wall"
  summary "$db"
  echo "== report.md (head)"
  sed -n 1,60p "$OUT/report/report.md"
}

full() {
  local db="$OUT/full.db" t
  rm -f "$db" "$db-wal" "$db-shm"
  echo "== full: hone ab run $SPEC --db $db --no-judge"
  t=$(now); "$HONE" ab run "$SPEC" --db "$db" --no-judge; echo "ab run: $(since "$t") s wall"
  [ "$(q "$db" "SELECT count(*) FROM answers WHERE error IS NULL")" = "$CELLS" ] || { echo "FAIL: not $CELLS answers" >&2; exit 1; }
  judge_report "$db"
}

kill_test() {
  local db="$OUT/kill.db" t pid n n_after
  rm -f "$db" "$db-wal" "$db-shm"
  echo "== kill: hone ab run $SPEC --db $db --no-judge, kill -9 at $((CELLS / 2)) answers"
  t=$(now)
  "$HONE" ab run "$SPEC" --db "$db" --no-judge 2>"$OUT/kill.log" &
  pid=$!
  n=0
  while kill -0 "$pid" 2>/dev/null; do
    n=$(q "$db" "SELECT count(*) FROM answers" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge $((CELLS / 2)) ] && break
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || { echo "FAIL: the run ended before the kill" >&2; exit 1; }
  wait "$pid" 2>/dev/null || true
  n_after=$(q "$db" "SELECT count(*) FROM answers")
  echo "killed (SIGKILL) after $(since "$t") s: $n_after answers stored"
  echo "== kill: the same command again"
  t=$(now); "$HONE" ab run "$SPEC" --db "$db" --no-judge; echo "rerun: $(since "$t") s wall"
  local rows cells dup err r1 runs
  rows=$(q "$db" "SELECT count(*) FROM answers")
  cells=$(q "$db" "SELECT count(*) FROM (SELECT 1 FROM answers GROUP BY model, condition, probe, sample)")
  dup=$(q "$db" "SELECT count(*) FROM (SELECT 1 FROM answers GROUP BY model, condition, probe, sample HAVING count(*) <> 1)")
  err=$(q "$db" "SELECT count(*) FROM answers WHERE error IS NOT NULL OR answer IS NULL")
  runs=$(q "$db" "SELECT group_concat(n, ' + ') FROM (SELECT count(*) n FROM answers GROUP BY run_id ORDER BY run_id)")
  r1=$(q "$db" "SELECT count(*) FROM answers WHERE run_id = (SELECT min(id) FROM runs)")
  echo "after the rerun: $rows rows, $cells distinct cells, $dup cells with a count other than 1, $err error rows; rows per run: $runs"
  [ "$rows" = "$CELLS" ] && [ "$cells" = "$CELLS" ] && [ "$dup" = 0 ] && [ "$err" = 0 ] && [ "$r1" = "$n_after" ] ||
    { echo "FAIL: expected exactly one answer per cell ($CELLS), the killed run's $n_after rows kept" >&2; exit 1; }
  echo "kill -9 and rerun: exactly one answer per cell"
}

case "${1:-all}" in
  all) kill_test; judge_report "$OUT/kill.db" ;;
  answers) kill_test ;;
  judge) judge_report "$OUT/kill.db" ;;
  full) full ;;
  *) echo "usage: bench/ab_demo.sh [all|answers|judge|full]" >&2; exit 2 ;;
esac
