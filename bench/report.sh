#!/usr/bin/env bash
# Monthly report benchmark: builds the demo fund (BENCH_WORKERS, default 100000 workers, about
# a million ledger postings) on SQLite and on PostgreSQL, then times `report monthly` against
# a reference measured in the same run: one plain scan that sums every posting of the database
# (the least any report over the ledger must read). Prints medians of BENCH_RUNS runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
workers="${BENCH_WORKERS:-100000}"
runs="${BENCH_RUNS:-5}"
pg_admin="${BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
bin="$root/target/release/ptt-ledger"
[[ "${BENCH_SKIP_BUILD:-}" == 1 ]] || cargo build --release --quiet --manifest-path "$root/Cargo.toml"
work="$(mktemp -d)"
pg_db="ptt_bench_report_$$"
cleanup() { psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() { # command... → median milliseconds
  for _ in $(seq "$runs"); do
    local t0; t0=$(ms); "$@" >/dev/null; echo $(( $(ms) - t0 ))
  done | median
}

printf '%-10s %10s %12s %14s %14s %8s\n' backend workers demo_s report_ms reference_ms ratio
for backend in sqlite postgres; do
  if [[ $backend == sqlite ]]; then
    url="$work/bench.db"
    scan=(sqlite3 "$url" "SELECT count(*), sum(amount_cents) FROM ledger_postings")
  else
    psql -q "$pg_admin" -c "CREATE DATABASE $pg_db" >/dev/null
    url="${pg_admin%/*}/$pg_db"
    scan=(psql -qAt "$url" -c "SELECT count(*), sum(amount_cents) FROM ledger_postings")
  fi
  t0=$(ms)
  out="$("$bin" --database-url "$url" demo --workers "$workers" --fund-code bench)"
  demo_s=$(( ($(ms) - t0) / 1000 ))
  fund="$(sed -n 's/^demo fund \([^ ]*\) .*/\1/p' <<<"$out")"
  month="$(date +%Y-%m)"
  [[ $backend == postgres ]] && psql -q "$url" -c "VACUUM ANALYZE" >/dev/null
  report_ms=$(time_runs "$bin" --database-url "$url" report monthly --fund "$fund" --month "$month")
  reference_ms=$(time_runs "${scan[@]}")
  postings=$("${scan[@]}" | tr '|' ' ' | awk '{print $1}')
  ratio=$(awk -v a="$report_ms" -v b="$reference_ms" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '%-10s %10s %12s %14s %14s %8s   (%s postings)\n' "$backend" "$workers" "$demo_s" "$report_ms" "$reference_ms" "$ratio" "$postings"
done
