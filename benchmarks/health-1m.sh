#!/usr/bin/env bash
# Benchmark: the numbering health check's two statements (the sequence's position, then the look at the newest
# 10,000 numbers) on a study of N users (default 1,000,000), each with one session and two responses, seeded as in
# audit-1m.sh; the API only creates the schema. Times five looks with psql, then prints the plan.
# Starts its own PostgreSQL (default durability) and API on free loopback ports, stops both by PID at the end.
#   usage: benchmarks/health-1m.sh [users]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-1000000}
BIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$BIN/postgres" ] || BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/mj-audit-bench.XXXXXX); chmod 755 "$WORK"
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

echo "Seeding $USERS users, sessions and $((2 * USERS)) responses..."
SEED_START=$(date +%s)
psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney -v users="$USERS" <<'SQL'
-- every 10,000th number is burned (a gap); every 50,000th visitor fell back (no number yet)
INSERT INTO users (id, is_anonymous, visitor_number, created_at, updated_at)
SELECT gen_random_uuid(), true, CASE WHEN i % 50000 = 0 THEN NULL ELSE i + i / 10000 END, now(), now()
FROM generate_series(1, :users) AS i;
INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, current_level, is_completed, created_at, updated_at)
SELECT gen_random_uuid(), id, '6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001', visitor_number, 4, true, created_at, now() FROM users;
INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type, response_data, created_at)
SELECT gen_random_uuid(), s.id, s.user_id, s.visitor_number, l::text, 'q' || l, 'text', '{"text":"an answer"}', now()
FROM experiment_sessions s CROSS JOIN generate_series(1, 2) AS l;
SELECT setval('visitor_counter_sequence', (SELECT max(visitor_number) FROM users));
VACUUM ANALYZE;
SQL
echo "Seeded in $(( $(date +%s) - SEED_START )) s"

kill "$API_PID"; API_PID=
for run in 1 2 3 4 5; do
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney <<'SQL'
\timing on
SELECT CASE WHEN is_called THEN last_value ELSE 0 END - 9999 AS lowest FROM visitor_counter_sequence \gset
        SELECT stray.id, stray.visitor_number,
               EXISTS (SELECT 1 FROM users WHERE visitor_number = stray.visitor_number AND id <> stray.user_id),
               (SELECT r.id FROM experiment_sessions s JOIN experiment_responses r ON r.session_id = s.id
                WHERE s.visitor_number >= :lowest AND r.visitor_number IS DISTINCT FROM s.visitor_number
                LIMIT 1),
               (SELECT min(created_at) FROM storage_deliveries WHERE created_at < now() - interval '15 minutes')
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (
            (SELECT s.id, s.visitor_number, s.user_id
             FROM experiment_sessions s LEFT JOIN users u ON u.id = s.user_id
             WHERE s.visitor_number >= :lowest AND s.visitor_number IS DISTINCT FROM u.visitor_number
             LIMIT 1)
            UNION ALL
            (SELECT s.id, s.visitor_number, s.user_id
             FROM users u JOIN experiment_sessions s ON s.user_id = u.id
             WHERE u.visitor_number >= :lowest AND s.visitor_number IS DISTINCT FROM u.visitor_number
             LIMIT 1)
            LIMIT 1
        ) stray ON true
;
SQL
done
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney <<'SQL'
SELECT CASE WHEN is_called THEN last_value ELSE 0 END - 9999 AS lowest FROM visitor_counter_sequence \gset
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
        SELECT stray.id, stray.visitor_number,
               EXISTS (SELECT 1 FROM users WHERE visitor_number = stray.visitor_number AND id <> stray.user_id),
               (SELECT r.id FROM experiment_sessions s JOIN experiment_responses r ON r.session_id = s.id
                WHERE s.visitor_number >= :lowest AND r.visitor_number IS DISTINCT FROM s.visitor_number
                LIMIT 1),
               (SELECT min(created_at) FROM storage_deliveries WHERE created_at < now() - interval '15 minutes')
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (
            (SELECT s.id, s.visitor_number, s.user_id
             FROM experiment_sessions s LEFT JOIN users u ON u.id = s.user_id
             WHERE s.visitor_number >= :lowest AND s.visitor_number IS DISTINCT FROM u.visitor_number
             LIMIT 1)
            UNION ALL
            (SELECT s.id, s.visitor_number, s.user_id
             FROM users u JOIN experiment_sessions s ON s.user_id = u.id
             WHERE u.visitor_number >= :lowest AND s.visitor_number IS DISTINCT FROM u.visitor_number
             LIMIT 1)
            LIMIT 1
        ) stray ON true
;
SQL
