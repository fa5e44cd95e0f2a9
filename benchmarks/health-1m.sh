#!/usr/bin/env bash
# Benchmark: the numbering health check's two statements (the sequence's position, then the look at the newest
# 10,000 numbers) on a study of N users (default 1,000,000), each with one session and two responses, seeded by
# lib/seed-study.sql; the API only creates the schema. Times five looks with psql, then prints the plan.
# Starts its own PostgreSQL (default durability) and API on free loopback ports, stops both by PID at the end.
#   usage: benchmarks/health-1m.sh [users]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-1000000}
WORK_NAME=health-bench source benchmarks/lib/fresh-system.sh
start_postgres
start_api

seed_study "$USERS"

kill "$API_PID"; API_PID=
# The look as the health check sends it (benchmarks/health-look.sql), from the sequence's newest 10,000 numbers.
LOOK=$(grep -v '^--' benchmarks/health-look.sql)
SETUP="\\set pending_age '15 minutes'
SELECT CASE WHEN is_called THEN last_value ELSE 0 END - 9999 AS lowest FROM visitor_counter_sequence \\gset"
for run in 1 2 3 4 5; do
  psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney <<SQL
$SETUP
\\timing on
$LOOK
SQL
done
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney <<SQL
$SETUP
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
$LOOK
SQL
