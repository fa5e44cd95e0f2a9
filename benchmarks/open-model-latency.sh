#!/usr/bin/env bash
# Benchmark (issue: the open-model tail): the API alone (Release, fresh PostgreSQL with default durability) under the
# harness's open model, RATE sessions/s for SECONDS s after a 5 s warm-up in the same harness process, every POST
# /api/session with its own Idempotency-Key. Prints the latency percentiles (from each arrival's scheduled time), the
# p99 of each second, the harness's own worst lateness, and what PostgreSQL saw: statements slower than 4 ms (with
# their plans, auto_explain) and how often experiment_sessions was read whole. A plan that scans the sessions
# table grows with every Play; a healthy run reads it whole only for the harness's audits.
#   usage: benchmarks/open-model-latency.sh [rate] [seconds] [NAME=VALUE ...]   (extra environment for the API)
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-1000}
SECONDS_=${2:-20}
shift $(( $# < 2 ? $# : 2 ))
WORK_NAME=open-model source benchmarks/lib/fresh-system.sh
start_postgres
# Slow statements and their plans go to the server log; a new backend loads auto_explain by itself.
"${PSQL[@]}" -c "LOAD 'auto_explain'" -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
  -c "ALTER SYSTEM SET auto_explain.log_min_duration = '4ms'" -c "ALTER SYSTEM SET log_min_duration_statement = '4ms'" \
  -c "SELECT pg_reload_conf()" >/dev/null
start_api MindJourney__RateLimit__SessionsPerWindow=0 "$@"
dotnet build MindJourney.LoadTests -c Release -v q -nologo >/dev/null
LOG_FROM=$(wc -l <"$WORK/pg.log")
api_ticks() { awk '{print $14 + $15}' "/proc/$API_PID/stat"; }
TICKS_FROM=$(api_ticks); T0=$(date +%s.%N)

ADMIN_API_KEY="$KEY" dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll \
  --api-url "http://127.0.0.1:$APIPORT/api" --rate "$RATE" --warm-up 5s --duration "${SECONDS_}s" --scenario session \
  --report-dir "$WORK/run" --quiet >"$WORK/run.txt" 2>&1 || true
API_CPU=$(awk -v t="$(( $(api_ticks) - TICKS_FROM ))" -v hz="$(getconf CLK_TCK)" -v t0="$T0" -v t1="$(date +%s.%N)" \
  'BEGIN { printf "%.0f", 100 * t / hz / (t1 - t0) }')

echo "== open model, API alone: $RATE sessions/s, ${SECONDS_} s after a 5 s warm-up =="
jq -r '"sessions/s \(.totals.ok / .durationSeconds | floor), dropped \(.totals.dropped), failed \(.totals.failed); " +
  ([.allRequests.percentiles[] | "p\(.percentile) \(.ms)"] | join(", ")) + " ms; harness late by \(.totals.maxScheduleLagMs) ms at most"' \
  "$WORK/run/report.json"
jq -r '"p99 of each second (ms): " + ([.series[] | .p99Ms | floor] | map(tostring) | join(" "))' "$WORK/run/report.json"
echo "API CPU over the harness's run (warm-up and audits included): $API_CPU % of one core"
jq -r '"checks: " + ([.checks[] | select(.outcome != "Skipped") | .name + " " + .outcome] | join(", "))' "$WORK/run/report.json"
tail -n +"$((LOG_FROM + 1))" "$WORK/pg.log" >"$WORK/run-pg.log"
# A numbering statement's text starts with its first CTE: "WITH request" (a batch) or "WITH existing" (one visitor).
echo "statements over 4 ms in PostgreSQL: $(grep -c 'duration: .* ms  execute' "$WORK/run-pg.log" || true)," \
  "numbering plans among them reading experiment_sessions whole: $(awk '/Query Text:/ { numbering = /WITH (request|existing)/ }
    numbering && /Seq Scan on experiment_sessions/ { n++ } END { print n + 0 }' "$WORK/run-pg.log")"
"${PSQL[@]}" -d mindjourney -tAc "SELECT 'experiment_sessions read whole ' || seq_scan || ' times (' || seq_tup_read ||
  ' rows) for ' || n_live_tup || ' sessions' FROM pg_stat_user_tables WHERE relname = 'experiment_sessions'"
