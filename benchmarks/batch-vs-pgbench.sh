#!/usr/bin/env bash
# Benchmark (issue: number many visitors per statement): the API alone (Release, fresh PostgreSQL with default
# durability) under wrk, 64 connections, every POST /api/session with its own Idempotency-Key, next to pgbench
# running the minimal durable work (benchmarks/minimal-play.pgbench.sql: nextval + user + session in one statement)
# at 16 clients on the same server, in the same sitting. Prints both rates, their ratio, the sessions per commit
# during the API's run, the CPU a Play costs the API and PostgreSQL and the WAL it writes (docs/SCALING.md builds on
# them), and checks that every live number is unique and the numbers contiguous.
#   usage: benchmarks/batch-vs-pgbench.sh [connections] [seconds] [NAME=VALUE ...]   (extra environment for the API,
#          e.g. MindJourney__Numbering__MaxBatchSize=16)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
CONNECTIONS=${1:-64}
SECONDS_=${2:-20}
shift $(( $# < 2 ? $# : 2 ))
WORK_NAME=batch source benchmarks/lib/fresh-system.sh
start_postgres
start_api MindJourney__RateLimit__SessionsPerWindow=0 "$@"
URL="http://127.0.0.1:$APIPORT"

# Warm-up (JIT, pools, prepared statements), not reported.
wrk -t2 -c"$CONNECTIONS" -d5s -s benchmarks/unique-key-play.lua "$URL/api/session" >/dev/null

# CPU (user + system, clock ticks) of processes: what a Play costs the API and PostgreSQL (the server and its
# backends; the API's pooled connections live through the run).
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do [ -r "/proc/$pid/stat" ] && total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat") )); done
  echo "$total"
}
postgres_pids() { echo "$PG_PID" $(pgrep -P "$PG_PID"); }
COUNTS="SELECT (SELECT count(*) FROM experiment_sessions), xact_commit, pg_current_wal_lsn() - '0/0'::pg_lsn
        FROM pg_stat_database WHERE datname = 'mindjourney'"
read -r SESSIONS_BEFORE COMMITS_BEFORE WAL_BEFORE < <("${PSQL[@]}" -d mindjourney -At -F ' ' -c "$COUNTS")
API_TICKS=$(cpu_ticks "$API_PID"); PG_TICKS=$(cpu_ticks $(postgres_pids))
echo "== wrk: $CONNECTIONS connections, ${SECONDS_} s, POST /api/session (unique Idempotency-Key), the API alone =="
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_}s" --latency -s benchmarks/unique-key-play.lua "$URL/api/session" | tee "$WORK/wrk.txt"
API_RATE=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.txt")
grep -q "Non-2xx" "$WORK/wrk.txt" && echo "!! some answers were not 2xx"
API_TICKS=$(( $(cpu_ticks "$API_PID") - API_TICKS )); PG_TICKS=$(( $(cpu_ticks $(postgres_pids)) - PG_TICKS ))
sleep 1 # the statistics collector reports commits within a second
read -r SESSIONS_AFTER COMMITS_AFTER WAL_AFTER < <("${PSQL[@]}" -d mindjourney -At -F ' ' -c "$COUNTS")
PLAYS=$(( SESSIONS_AFTER - SESSIONS_BEFORE ))
echo "sessions per commit during the run: $(echo "scale=1; $PLAYS / ($COMMITS_AFTER - $COMMITS_BEFORE)" | bc)"
HZ=$(getconf CLK_TCK)
echo "WAL per Play: $(echo "($WAL_AFTER - $WAL_BEFORE) / $PLAYS" | bc) bytes"
echo "CPU per Play: API $(( API_TICKS * 1000000 / HZ / PLAYS )) µs, PostgreSQL $(( PG_TICKS * 1000000 / HZ / PLAYS )) µs"

echo "== pgbench: the minimal durable work, 16 clients, ${SECONDS_} s, same server =="
"${PSQL[@]}" -d mindjourney -c 'CHECKPOINT'
pgbench -n -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -c 16 -j 2 -T "$SECONDS_" \
  -f benchmarks/minimal-play.pgbench.sql mindjourney >"$WORK/pgbench.txt" &
PGBENCH_PID=$!
# PostgreSQL's CPU over the run's middle, while pgbench's backends live (their ticks go when they exit).
sleep 2; PG_TICKS=$(cpu_ticks $(postgres_pids)); sleep $(( SECONDS_ - 4 )); PG_TICKS=$(( $(cpu_ticks $(postgres_pids)) - PG_TICKS ))
wait "$PGBENCH_PID"
grep -E "tps|latency average|failed" "$WORK/pgbench.txt"
PG_RATE=$(awk '/^tps/ {print $3}' "$WORK/pgbench.txt")
echo "CPU per minimal statement: PostgreSQL $(awk -v t="$PG_TICKS" -v hz="$HZ" -v r="$PG_RATE" -v w=$(( SECONDS_ - 4 )) \
  'BEGIN {printf "%.0f", t / hz / (r * w) * 1e6}') µs"
echo "API: $API_RATE sessions/s; pgbench minimal statement: $PG_RATE tps; ratio $(echo "scale=2; $API_RATE / $PG_RATE" | bc)"

echo "== numbers =="
"${PSQL[@]}" -d mindjourney -At -F ' ' -c "
  SELECT 'live users', count(*), 'distinct numbers', count(DISTINCT visitor_number), 'max', max(visitor_number),
         CASE WHEN count(*) = count(DISTINCT visitor_number) AND max(visitor_number) = count(*)
              THEN 'unique and contiguous' ELSE 'NOT unique and contiguous' END
  FROM users WHERE mode = 'live';
  SELECT 'sessions whose number differs from their user''s', count(*)
  FROM experiment_sessions s JOIN users u ON u.id = s.user_id WHERE s.visitor_number IS DISTINCT FROM u.visitor_number;"
