#!/usr/bin/env bash
# Benchmark: GET /api/admin/participants (the researcher page's table) on a study of N sessions (default 1,000,000),
# each with its own user and two responses: the first page, and a page deep in the list (keyset, via `before`).
# Session ids are time-ordered like the API's own (UUIDv7 layout: milliseconds first).
# Starts its own PostgreSQL and API on free loopback ports, stops both by PID at the end.
#   usage: benchmarks/participants-1m.sh [sessions] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-1000000}
RUNS=${2:-5}
BIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$BIN/postgres" ] || BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/mj-participants-bench.XXXXXX); chmod 755 "$WORK"
AS_PG=(); [ "$(id -u)" = 0 ] && { chown postgres:postgres "$WORK"; AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port); APIPORT=$(free_port)
KEY=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
PG_PID=; API_PID=
cleanup() { [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null; [ -n "$PG_PID" ] && kill -INT "$PG_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"${AS_PG[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
"${AS_PG[@]}" "$BIN/postgres" -D "$WORK/data" -p "$PGPORT" -h 127.0.0.1 -k "" -c shared_buffers=512MB -c max_wal_size=4GB >"$WORK/pg.log" 2>&1 &
PG_PID=$!
until psql -h 127.0.0.1 -p "$PGPORT" -U postgres -c 'select 1' >/dev/null 2>&1; do sleep 0.2; done
psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c 'CREATE DATABASE mindjourney'

dotnet build MindJourney.Api -c Release -v q -nologo >/dev/null
ConnectionStrings__mindjourney="Host=127.0.0.1;Port=$PGPORT;Username=postgres;Database=mindjourney" Admin__ApiKey="$KEY" \
  ASPNETCORE_URLS="http://127.0.0.1:$APIPORT" Logging__LogLevel__Default=Warning \
  dotnet MindJourney.Api/bin/Release/net10.0/MindJourney.Api.dll >"$WORK/api.log" 2>&1 &
API_PID=$!
until curl -sf "http://127.0.0.1:$APIPORT/health" >/dev/null 2>&1; do sleep 0.5; done

echo "Seeding $SESSIONS sessions and $((2 * SESSIONS)) responses..."
SEED_START=$(date +%s)
psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney -v sessions="$SESSIONS" <<'SQL'
-- one session a second, ids in UUIDv7 layout (48 bits of milliseconds, then random bits)
CREATE TEMP TABLE seed AS
SELECT i, (lpad(to_hex(1764633600000 + i * 1000), 12, '0') || substr(md5(i::text), 1, 20))::uuid AS session_id,
       gen_random_uuid() AS user_id, to_timestamp(1764633600 + i) AS at
FROM generate_series(1, :sessions) AS i;
INSERT INTO users (id, is_anonymous, visitor_number, created_at, updated_at) SELECT user_id, true, i, at, at FROM seed;
INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, current_level, is_completed, created_at, updated_at)
SELECT session_id, user_id, '6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001', i, 1 + i % 4, i % 4 = 0, at, at FROM seed;
INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type, response_data,
                                  file_id, created_at)
SELECT gen_random_uuid(), session_id, user_id, i, l::text, 'q' || l, 'text', '{"text":"an answer"}',
       CASE WHEN l = 1 THEN 'responses/' || session_id || '/text-response.txt' END, at
FROM seed CROSS JOIN generate_series(1, 2) AS l;
SELECT setval('visitor_counter_sequence', :sessions);
VACUUM ANALYZE;
SQL
echo "Seeded in $(( $(date +%s) - SEED_START )) s"

DEEP=$(psql -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney \
  -c "SELECT id FROM experiment_sessions ORDER BY id OFFSET $(( SESSIONS / 2 )) LIMIT 1")
for run in $(seq 1 "$RUNS"); do
  curl -s -o /dev/null -w "first page (50), run $run: %{time_total} s (HTTP %{http_code})\n" \
    -H "X-Admin-Key: $KEY" "http://127.0.0.1:$APIPORT/api/admin/participants"
  curl -s -o /dev/null -w "middle page (500), run $run: %{time_total} s (HTTP %{http_code})\n" \
    -H "X-Admin-Key: $KEY" "http://127.0.0.1:$APIPORT/api/admin/participants?limit=500&before=$DEEP"
done
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney <<SQL
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT s.id, s.visitor_number, s.mode, s.condition, s.created_at, s.current_level, e.total_levels, s.is_completed,
       c.responses, c.files
FROM experiment_sessions s
JOIN experiments e ON e.id = s.experiment_id
CROSS JOIN LATERAL (
    SELECT count(*) AS responses, count(r.file_id) AS files FROM experiment_responses r WHERE r.session_id = s.id
) c
WHERE s.id < '$DEEP' ORDER BY s.id DESC LIMIT 501;
SQL
