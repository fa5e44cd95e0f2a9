#!/usr/bin/env bash
# Benchmark (docs/SCALING.md): how many values one PostgreSQL sequence hands out per second, one per statement and
# 64 per statement (as a numbering batch takes them), with no table written. Where one sequence would stop
# scaling. Fresh PostgreSQL, default durability; everything it starts it stops, by PID.
#   usage: benchmarks/sequence-ceiling.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${1:-10}
WORK_NAME=sequence source benchmarks/lib/fresh-system.sh
start_postgres
"${PSQL[@]}" -d mindjourney -c 'CREATE SEQUENCE visitor_counter_sequence'
echo 'SELECT nextval($$visitor_counter_sequence$$);' >"$WORK/one.sql"
echo 'SELECT nextval($$visitor_counter_sequence$$) FROM generate_series(1, 64);' >"$WORK/batch.sql"
for clients in 2 16; do
  for script in one batch; do
    tps=$(pgbench -n -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -c "$clients" -j 2 -T "$SECONDS_" \
      -f "$WORK/$script.sql" mindjourney | awk '/^tps/ {print $3}')
    per=$([ "$script" = one ] && echo 1 || echo 64)
    printf '%2d clients, %2d value(s) per statement: %8.0f statements/s, %9.0f values/s\n' "$clients" "$per" "$tps" \
      "$(echo "$tps * $per" | bc)"
  done
done
