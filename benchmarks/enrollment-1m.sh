#!/usr/bin/env bash
# Benchmark: GET /api/admin/experiments/{id}/enrollment (the researcher page's chart) on a study of N live sessions
# (default 1,000,000), each with its own user, spread evenly over 60 days and 3 conditions (a quarter completed),
# plus 1 % pilot sessions the query must leave out: hour buckets (1,440) and day buckets (60), several runs each.
# Starts its own PostgreSQL and API on free loopback ports, stops both by PID at the end.
#   usage: benchmarks/enrollment-1m.sh [sessions] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-1000000}
RUNS=${2:-7}
WORK_NAME=enrollment-bench source benchmarks/lib/fresh-system.sh
start_postgres
start_api

STUDY=$(curl -fsS -H "X-Admin-Key: $KEY" -H "Content-Type: application/json" "http://127.0.0.1:$APIPORT/api/admin/experiments" \
  -d '{"title":"Enrollment benchmark","status":"open","conditions":["a","b","c"],
       "levels":[{"title":"Level 1","questions":[{"id":"q1","type":"text","prompt":"?"}]}]}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

echo "Seeding $SESSIONS live and $((SESSIONS / 100)) pilot sessions over 60 days..."
SEED_START=$(date +%s)
"${PSQL[@]}" -d mindjourney -v sessions="$SESSIONS" -v study="$STUDY" <<'SQL'
-- sessions evenly over 60 days (5,184,000 s) ending now; ids in UUIDv7 layout (48 bits of milliseconds first)
CREATE TEMP TABLE seed AS
SELECT i, CASE WHEN i % 101 = 0 THEN 'pilot' ELSE 'live' END AS mode,
       now() - make_interval(secs => 5184000.0 * (:sessions - i) / :sessions) AS at, gen_random_uuid() AS user_id
FROM generate_series(1, :sessions + :sessions / 100) AS i;
INSERT INTO users (id, is_anonymous, visitor_number, mode, created_at, updated_at)
SELECT user_id, true, row_number() OVER (PARTITION BY mode ORDER BY i), mode, at, at FROM seed;
INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, mode, study_participant_number, condition,
                                 current_level, is_completed, created_at, updated_at)
SELECT (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || substr(md5(i::text), 1, 20))::uuid, s.user_id,
       :'study', u.visitor_number, s.mode, u.visitor_number, (ARRAY['a', 'b', 'c'])[1 + i % 3], 1, i % 4 = 0, at, at
FROM seed s JOIN users u ON u.id = s.user_id;
SELECT setval('visitor_counter_sequence', :sessions);
VACUUM ANALYZE;
CHECKPOINT; -- the bulk load's writes done before the timing, as on a settled system
SQL
echo "Seeded in $(( $(date +%s) - SEED_START )) s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

for bucket in hour day; do
  for run in $(seq 1 "$RUNS"); do
    curl -s -o "$WORK/enrollment-$bucket.json" -w "%{time_total} %{http_code}\n" \
      -H "X-Admin-Key: $KEY" "http://127.0.0.1:$APIPORT/api/admin/experiments/$STUDY/enrollment?bucket=$bucket"
  done >"$WORK/times-$bucket.txt"
  python3 - "$bucket" "$WORK/times-$bucket.txt" "$WORK/enrollment-$bucket.json" <<'PY'
import json, statistics, sys
bucket, times, body = sys.argv[1:]
runs = [line.split() for line in open(times)]
ms = [float(t) * 1000 for t, _ in runs]
buckets = json.load(open(body))
print(f"bucket={bucket}: {len(buckets)} buckets, {sum(b['started'] for b in buckets)} started; "
      f"runs {[round(m) for m in ms]} ms, median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms, "
      f"HTTP {sorted({code for _, code in runs})}")
PY
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"${PSQL[@]}" -d mindjourney <<SQL
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT date_bin('1 hour', s.created_at, timestamptz '2000-01-01 00:00:00+00') AS start, s.condition, count(*), count(*) FILTER (WHERE s.is_completed)
FROM experiment_sessions s WHERE s.experiment_id = '$STUDY' AND s.mode = 'live' GROUP BY 1, 2;
SQL
