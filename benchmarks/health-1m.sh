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

echo "Seeding $USERS users, sessions and $((2 * USERS)) responses..."
SEED_START=$(date +%s)
"${PSQL[@]}" -d mindjourney -v users="$USERS" -f benchmarks/lib/seed-study.sql
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
