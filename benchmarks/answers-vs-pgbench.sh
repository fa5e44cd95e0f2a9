#!/usr/bin/env bash
# Benchmark (issue: answers batched like Play): the API alone (Release, Production settings, per-client limits off, a
# fresh PostgreSQL with default durability, the storage emulator running) under wrk, 64 connections, every
# POST /api/response a JSON text answer as the participant page sends it (benchmarks/text-answer.lua: its own
# Idempotency-Key, a session drawn from 256 made through the API), next to pgbench running the minimal durable answer
# (benchmarks/minimal-answer.pgbench.sql: the quota checked and bumped and the answer inserted with its session's
# number, in one statement) at 16 clients over the same 256 sessions, on the same server, in the same sitting.
# Prints both rates, their ratio, the answers per commit during the API's run, the CPU an answer costs the API and
# PostgreSQL and the WAL it writes, then waits for the delivery worker and checks that every text answer's object is
# in the emulator and that every count matches (answers acknowledged, rows, the sessions' counters).
#   usage: benchmarks/answers-vs-pgbench.sh [connections] [seconds] [NAME=VALUE ...]   (extra environment for the API,
#          e.g. MindJourney__Responses__MaxBatchSize=16)
#   ANSWER_TYPE=email benchmarks/answers-vs-pgbench.sh   the same answers as responseType "email": no storage object,
#          the answer's statement alone (what the text's object costs is the difference)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
CONNECTIONS=${1:-64}
SECONDS_=${2:-20}
SESSIONS=256
shift $(( $# < 2 ? $# : 2 ))
WORK_NAME=answers source benchmarks/lib/fresh-system.sh
start_postgres
start_storage_emulator
# Quotas out of the way: both runs answer the same 256 sessions, hundreds of times each.
start_api MindJourney__RateLimit__SessionsPerWindow=0 MindJourney__RateLimit__ResponsesPerWindow=0 \
  MindJourney__Storage__MaxResponsesPerSession=1000000 MindJourney__Storage__UploadBytesPerClientPerHour=0 \
  "STORAGE_EMULATOR_HOST=127.0.0.1:$STPORT" "$@"
URL="http://127.0.0.1:$APIPORT"

EXPERIMENT=$(curl -sf "$URL/api/experiment" | sed -E 's/.*"id":"([^"]+)".*/\1/')
for _ in $(seq "$SESSIONS"); do
  curl -sf -X POST "$URL/api/session" -H 'content-type: application/json' -d "{\"experimentId\":\"$EXPERIMENT\"}" \
    | sed -E 's/.*"id":"([^"]+)".*/\1/'
  echo # the body ends without a newline
done >"$WORK/sessions.txt"
echo "$(wc -l <"$WORK/sessions.txt") sessions made through the API (visitor numbers 1 to $SESSIONS)"

# Warm-up (JIT, pools, prepared statements), not reported; its objects are delivered before the measured run.
wrk -t2 -c"$CONNECTIONS" -d5s -s benchmarks/text-answer.lua "$URL/api/response" -- "$WORK/sessions.txt" >/dev/null
PENDING="SELECT count(*) FROM storage_deliveries"
until [ "$("${PSQL[@]}" -d mindjourney -At -c "$PENDING")" = 0 ]; do sleep 0.5; done

# CPU (user + system, clock ticks) of processes: what an answer costs the API and PostgreSQL (the server and its
# backends; the API's pooled connections live through the run).
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do [ -r "/proc/$pid/stat" ] && total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat") )); done
  echo "$total"
}
postgres_pids() { echo "$PG_PID" $(pgrep -P "$PG_PID"); }
COUNTS="SELECT (SELECT count(*) FROM experiment_responses), xact_commit, pg_current_wal_lsn() - '0/0'::pg_lsn
        FROM pg_stat_database WHERE datname = 'mindjourney'"
read -r ANSWERS_BEFORE COMMITS_BEFORE WAL_BEFORE < <("${PSQL[@]}" -d mindjourney -At -F ' ' -c "$COUNTS")
API_TICKS=$(cpu_ticks "$API_PID"); PG_TICKS=$(cpu_ticks $(postgres_pids)); ST_TICKS=$(cpu_ticks "$ST_PID")
RUN_STARTED=$("${PSQL[@]}" -d mindjourney -At -c "SELECT now()")
echo "== wrk: $CONNECTIONS connections, ${SECONDS_} s, POST /api/response (JSON text answers, unique Idempotency-Key)," \
  "storage emulator running =="
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_}s" --latency -s benchmarks/text-answer.lua "$URL/api/response" -- "$WORK/sessions.txt" \
  | tee "$WORK/wrk.txt"
API_RATE=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.txt")
grep -q "Non-2xx" "$WORK/wrk.txt" && echo "!! some answers were not 2xx"
API_TICKS=$(( $(cpu_ticks "$API_PID") - API_TICKS )); PG_TICKS=$(( $(cpu_ticks $(postgres_pids)) - PG_TICKS ))
ST_TICKS=$(( $(cpu_ticks "$ST_PID") - ST_TICKS ))
sleep 1 # the statistics collector reports commits within a second
read -r ANSWERS_AFTER COMMITS_AFTER WAL_AFTER < <("${PSQL[@]}" -d mindjourney -At -F ' ' -c "$COUNTS")
ANSWERS=$(( ANSWERS_AFTER - ANSWERS_BEFORE ))
HZ=$(getconf CLK_TCK)
# The answers of one statement share its transaction's timestamp: answers per statement, exactly.
STATEMENTS=$("${PSQL[@]}" -d mindjourney -At -c "SELECT count(DISTINCT created_at) FROM experiment_responses
                                                 WHERE created_at >= '$RUN_STARTED'")
echo "answers per answer statement: $(echo "scale=1; $ANSWERS / $STATEMENTS" | bc);" \
  "answers per commit: $(echo "scale=2; $ANSWERS / ($COMMITS_AFTER - $COMMITS_BEFORE)" | bc) (the delivery worker's commits included)"
echo "WAL per answer: $(echo "($WAL_AFTER - $WAL_BEFORE) / $ANSWERS" | bc) bytes"
echo "CPU per answer: API $(( API_TICKS * 1000000 / HZ / ANSWERS )) µs, PostgreSQL $(( PG_TICKS * 1000000 / HZ / ANSWERS )) µs," \
  "storage emulator $(( ST_TICKS * 1000000 / HZ / ANSWERS )) µs (the delivery worker's share of what it wrote during the run included)"

echo "== the delivery worker: every text answer's object in the emulator =="
STARTED=$(date +%s)
until [ "$("${PSQL[@]}" -d mindjourney -At -c "$PENDING")" = 0 ]; do sleep 0.5; done
echo "objects written $(( $(date +%s) - STARTED )) s after the run"
OBJECTS=$(find "$WORK/storage/buckets" -path '*/objects/*.json' | wc -l)

echo "== pgbench: the minimal durable answer, 16 clients, ${SECONDS_} s, same server, same sessions =="
"${PSQL[@]}" -d mindjourney -c 'CHECKPOINT'
read -r MINIMAL_BEFORE _ < <("${PSQL[@]}" -d mindjourney -At -F ' ' -c "$COUNTS")
pgbench -n -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -c 16 -j 2 -T "$SECONDS_" -D sessions="$SESSIONS" \
  -f benchmarks/minimal-answer.pgbench.sql mindjourney >"$WORK/pgbench.txt" &
PGBENCH_PID=$!
# PostgreSQL's CPU over the run's middle, while pgbench's backends live (their ticks go when they exit).
sleep 2; PG_TICKS=$(cpu_ticks $(postgres_pids)); sleep $(( SECONDS_ - 4 )); PG_TICKS=$(( $(cpu_ticks $(postgres_pids)) - PG_TICKS ))
wait "$PGBENCH_PID"
grep -E "tps|latency average|failed" "$WORK/pgbench.txt"
PG_RATE=$(awk '/^tps/ {print $3}' "$WORK/pgbench.txt")
read -r MINIMAL_AFTER _ < <("${PSQL[@]}" -d mindjourney -At -F ' ' -c "$COUNTS")
echo "CPU per minimal answer: PostgreSQL $(awk -v t="$PG_TICKS" -v hz="$HZ" -v r="$PG_RATE" -v w=$(( SECONDS_ - 4 )) \
  'BEGIN {printf "%.0f", t / hz / (r * w) * 1e6}') µs"
echo "API: $API_RATE answers/s; pgbench minimal answer: $PG_RATE tps; ratio $(echo "scale=2; $API_RATE / $PG_RATE" | bc)"

echo "== counts =="
TEXTS=$("${PSQL[@]}" -d mindjourney -At -c "SELECT count(*) FROM experiment_responses WHERE file_id IS NOT NULL")
echo "text answers recorded through the API: $TEXTS; objects in the emulator: $OBJECTS;" \
  "$([ "$TEXTS" = "$OBJECTS" ] && echo "every object there" || echo "!! OBJECTS MISSING OR EXTRA")"
"${PSQL[@]}" -d mindjourney -At -F ' ' -c "
  SELECT 'answers', count(*), 'sessions'' counters', (SELECT sum(response_count) FROM experiment_sessions),
         CASE WHEN count(*) = (SELECT sum(response_count) FROM experiment_sessions) THEN 'match' ELSE 'DO NOT MATCH' END
  FROM experiment_responses;
  SELECT 'answers not stored in storage', count(*) FROM experiment_responses WHERE file_id IS NOT NULL AND storage_status <> 'stored';
  SELECT 'answers whose number differs from their session''s', count(*)
  FROM experiment_responses r JOIN experiment_sessions s ON s.id = r.session_id WHERE r.visitor_number IS DISTINCT FROM s.visitor_number;"
echo "minimal answers inserted by pgbench: $(( MINIMAL_AFTER - MINIMAL_BEFORE ))"
