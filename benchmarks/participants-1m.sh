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
WORK_NAME=participants-bench source benchmarks/lib/fresh-system.sh
start_postgres
start_api

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
  curl -s -o /dev/null -w "search by visitor number, run $run: %{time_total} s (HTTP %{http_code})\n" \
    -H "X-Admin-Key: $KEY" "http://127.0.0.1:$APIPORT/api/admin/participants?visitorNumber=$(( SESSIONS / 2 + run ))"
done
# A withdrawal of one person (two answers) on the full table, then its repeat (nothing left to erase).
WITHDRAWN=$(psql -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney \
  -c "SELECT id FROM users WHERE visitor_number = $(( SESSIONS / 3 ))")
for attempt in first repeat; do
  curl -s -o /dev/null -w "withdrawal ($attempt): %{time_total} s (HTTP %{http_code})\n" -X POST \
    -H "X-Admin-Key: $KEY" "http://127.0.0.1:$APIPORT/api/admin/users/$WITHDRAWN/withdraw"
done
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney <<SQL
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT s.id, s.visitor_number, s.mode, s.condition, s.created_at, s.current_level, e.total_levels, s.is_completed,
       c.responses, c.files, s.experiment_id, s.study_participant_number, s.user_id, u.withdrawn_at
FROM experiment_sessions s
JOIN experiments e ON e.id = s.experiment_id
JOIN users u ON u.id = s.user_id
CROSS JOIN LATERAL (
    SELECT count(*) AS responses, count(r.file_id) AS files FROM experiment_responses r WHERE r.session_id = s.id
) c
WHERE s.id < '$DEEP' ORDER BY s.id DESC LIMIT 501;
SQL
