#!/usr/bin/env bash
# Benchmark (issue: a fast first minute): a fresh system, the API started and, the moment /health answers 200, the
# harness's open model at RATE sessions/s for SECONDS s with no warm-up (every POST /api/session with its own
# Idempotency-Key, latency from each arrival's scheduled time). Prints the time from the API's start to Healthy,
# the visitor numbers drawn before the first Play (a warm-up must draw none), p50/p99/max per 5 s slice and overall,
# and the same run again at once (API warm, harness fresh again: what the harness's own start costs).
# Release builds, fresh PostgreSQL data folder with default durability; everything it starts it stops, by PID.
#   usage: benchmarks/first-minute.sh [--apphost] [--ready-to-run] [--trace] [rate] [seconds] [NAME=VALUE ...]
#   --apphost  the whole development environment (dotnet run --project MindJourney.AppHost, local PostgreSQL), as
#              benchmarks/apphost-open-model.sh runs it, against http://localhost:5000.
#   --ready-to-run  the API alone, published ReadyToRun (dotnet publish -r linux-x64 -p:PublishReadyToRun=true):
#              its code and its packages' compiled ahead of time, as a container image would carry them.
#   --trace    also records the API's first minute: dotnet-trace (sampled thread time, summarised by
#              lib/thread-time-summary.py) and dotnet-counters (JIT and thread pool per second), kept in TRACE_DIR.
#   NAME=VALUE extra environment for the API (API alone), e.g. DOTNET_TieredPGO=0. KEEP_DIR=folder keeps the reports.
# A slice's p99 is that of its worst second (the harness keeps one histogram per second): never below the slice's own.
set -euo pipefail
cd "$(dirname "$0")/.."
APPHOST=0; TRACE=0; R2R=0
while [[ ${1:-} == --* ]]; do
  case $1 in
    --apphost) APPHOST=1 ;; --trace) TRACE=1 ;; --ready-to-run) R2R=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
RATE=${1:-1000}
SECONDS_=${2:-30}
shift $(( $# < 2 ? $# : 2 ))
TRACE_DIR=${TRACE_DIR:-/tmp/mj-first-minute-trace}
TOOLS="$HOME/.dotnet/tools"
if [ "$TRACE" = 1 ]; then
  for tool in dotnet-trace dotnet-counters; do
    [ -x "$TOOLS/$tool" ] || dotnet tool install -g "$tool" >/dev/null
  done
fi

if [ "$APPHOST" = 1 ]; then
  WORK=$(mktemp -d /tmp/mj-first-minute-apphost.XXXXXX); chmod 755 "$WORK"
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  PGPORT=$(free_port)
  PGPASS=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  KEY=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
  PSQL=(env "PGPASSWORD=$PGPASS" psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres)
  API_URL=http://localhost:5000
  APPHOST_PID=
  cleanup() {
    if [ -n "$APPHOST_PID" ] && kill -TERM "$APPHOST_PID" 2>/dev/null; then
      for _ in $(seq 30); do kill -0 "$APPHOST_PID" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -rf "$WORK"
  }
  trap cleanup EXIT
  dotnet build MindJourney.AppHost -c Release -v q -nologo >/dev/null
else
  WORK_NAME=first-minute source benchmarks/lib/fresh-system.sh
  start_postgres
  API_URL=http://127.0.0.1:$APIPORT
  if [ "$R2R" = 1 ]; then
    dotnet publish MindJourney.Api -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
      -o "$WORK/publish" -v q -nologo >/dev/null
    export API_DLL="$WORK/publish/MindJourney.Api.dll"
  else
    dotnet build MindJourney.Api -c Release -v q -nologo >/dev/null
  fi
fi
dotnet build MindJourney.LoadTests -c Release -v q -nologo >/dev/null

T0=$(date +%s.%N)
if [ "$APPHOST" = 1 ]; then
  # Secrets go in through the environment, never on a command line.
  env "Parameters__postgres-password=$PGPASS" "Parameters__admin-api-key=$KEY" \
    dotnet run --project MindJourney.AppHost -c Release --no-build -- MindJourney:Postgres=local \
    MindJourney:DataPath="$WORK/data" MindJourney:LocalPostgres:Port="$PGPORT" >"$WORK/apphost.log" 2>&1 &
  APPHOST_PID=$!
  API_PID=
  for _ in $(seq 1200); do
    API_PID=$(pgrep -f "$PWD/MindJourney.Api/bin/Release/net10.0/MindJourney.Api" | head -1 || true)
    [ -n "$API_PID" ] && break; sleep 0.1
  done
  [ -n "$API_PID" ] || { echo "the AppHost started no API; its log:"; tail -20 "$WORK/apphost.log"; exit 1; }
  API_T0=$(date +%s.%N)
else
  launch_api MindJourney__RateLimit__SessionsPerWindow=0 Logging__LogLevel__MindJourney.Api.Sessions.NumberingWarmUp=Information "$@"
  API_T0=$(date +%s.%N)
fi

TRACE_PIDS=()
if [ "$TRACE" = 1 ]; then
  rm -rf "$TRACE_DIR"; mkdir -p "$TRACE_DIR"
  # The runtime opens its diagnostics port within its first milliseconds.
  until ls /tmp/dotnet-diagnostic-"$API_PID"-* >/dev/null 2>&1; do sleep 0.05; done
  LENGTH=$(printf '00:00:%02d:%02d' $(( (SECONDS_ * 2 + 40) / 60 )) $(( (SECONDS_ * 2 + 40) % 60 )))
  # The profile's runtime keywords at the verbose level, which adds each method's compilation (start, end, tier).
  "$TOOLS/dotnet-trace" collect -p "$API_PID" --profile dotnet-sampled-thread-time --duration "$LENGTH" \
    --providers Microsoft-Windows-DotNETRuntime:0x14C14FCCBD:5 -o "$TRACE_DIR/api.nettrace" >"$TRACE_DIR/trace.log" 2>&1 &
  TRACE_PIDS+=($!)
  TRACE_T0=$(date +%s.%N)
  COUNTERS=dotnet.jit.compiled_methods,dotnet.jit.compilation.time,dotnet.thread_pool.thread.count,dotnet.process.cpu.time
  "$TOOLS/dotnet-counters" collect -p "$API_PID" --refresh-interval 1 --duration "$LENGTH" --format csv \
    --counters "System.Runtime[$COUNTERS]" \
    -o "$TRACE_DIR/counters.csv" >"$TRACE_DIR/counters.log" 2>&1 &
  TRACE_PIDS+=($!)
fi

until curl -sf "$API_URL/health" >/dev/null 2>&1; do
  kill -0 "$API_PID" 2>/dev/null || { echo "the API exited before it was healthy"; exit 1; }
  sleep 0.1
done
HEALTHY_AT=$(date +%s.%N)
# nextval is not transactional: anything the start did with the sequence shows here, rolled back or not.
DRAWN=$("${PSQL[@]}" -d mindjourney -tAc "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM visitor_counter_sequence")

harness() {
  ADMIN_API_KEY="$KEY" dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll \
    --api-url "$API_URL/api" --rate "$RATE" --warm-up 0s --duration "${SECONDS_}s" --scenario session \
    --report-dir "$WORK/$1" --quiet >"$WORK/$1.txt" 2>&1 || true
}
harness first
harness second
for pid in "${TRACE_PIDS[@]}"; do wait "$pid" || true; done

where=$([ "$APPHOST" = 1 ] && echo "through the AppHost" || echo "the API alone")
[ "$R2R" = 1 ] && where="$where, ReadyToRun"
echo "== first minute, $where: $RATE sessions/s for ${SECONDS_} s from the moment /health answers 200 =="
echo "load: $(uptime | sed 's/.*load average/load average/'), $(nproc) cores"
awk -v a="$T0" -v b="$API_T0" -v h="$HEALTHY_AT" -v apphost="$APPHOST" 'BEGIN {
  if (apphost == 1) printf "AppHost start to API process: %.1f s; ", b - a
  printf "API process start to /health 200: %.1f s\n", h - b }'
echo "visitor numbers drawn before the first Play: $DRAWN"
[ "$APPHOST" = 1 ] || grep -A1 'NumberingWarmUp' "$WORK/api.log" | grep -v NumberingWarmUp | sed 's/^ */warm-up: /' || true
summary() {
  jq -r --arg name "$1" '
    def r: . * 10 | round / 10;
    "-- \($name): sessions/s \(.totals.ok / .durationSeconds | floor), dropped \(.totals.dropped), failed \(.totals.failed), "
    + "harness late by \(.totals.maxScheduleLagMs | r) ms at most",
    "   overall: p50 \(.allRequests.percentiles[] | select(.percentile == 50) | .ms | r) ms, "
    + "p99 \(.allRequests.percentiles[] | select(.percentile == 99) | .ms | r) ms, max \(.allRequests.maxMs | r) ms",
    ([.series[] | select(.requests > 0)] | group_by((.elapsedSeconds - 0.001) / 5 | floor)[]
      | "   \((.[0].elapsedSeconds - 0.001) / 5 | floor * 5)-\((.[0].elapsedSeconds - 0.001) / 5 | floor * 5 + 5) s: "
        + "\(map(.requests) | add) requests, p50 \(map(.p50Ms) | sort | .[length / 2 | floor] | r) ms, "
        + "p99 \(map(.p99Ms) | max | r) ms, max \(map(.maxMs) | max | r) ms"),
    "   p99 of each second (ms): " + ([.series[] | .p99Ms | floor] | map(tostring) | join(" ")),
    "   checks: " + ([.checks[] | select(.outcome != "Skipped") | .name + " " + .outcome] | join(", "))
  ' "$WORK/$2/report.json"
}
# KEEP_DIR=folder keeps both runs' reports.
[ -n "${KEEP_DIR:-}" ] && { mkdir -p "$KEEP_DIR"; cp -r "$WORK/first" "$WORK/second" "$KEEP_DIR"; }
summary "first run, from the API's start" first
summary "second run at once (API warm, harness fresh)" second

if [ "$TRACE" = 1 ]; then
  echo "-- JIT and thread pool per second (dotnet-counters, from the API's start): $TRACE_DIR/counters.csv"
  python3 - "$TRACE_DIR/counters.csv" <<'EOF'
import collections, csv, sys
seconds = collections.defaultdict(collections.Counter)
for row in csv.DictReader(open(sys.argv[1])):
    seconds[row['Timestamp']][row['Counter Name'].split(' ')[0]] += float(row['Mean/Increment'] or 0)
print("   second  methods-jitted  jit-ms  api-cpu-ms  pool-threads")
threads = 0
for i, (_, c) in enumerate(sorted(seconds.items())):
    threads += c['dotnet.thread_pool.thread.count']
    print(f"   {i + 1:6d}  {c['dotnet.jit.compiled_methods']:14.0f}  {1000 * c['dotnet.jit.compilation.time']:6.0f}"
          f"  {1000 * c['dotnet.process.cpu.time']:10.0f}  {threads:12.0f}")
EOF
  echo "-- what the runtime compiled, by 5 s slice from the first run's start (dotnet-trace JIT events)"
  dotnet build benchmarks/lib/jit-summary -c Release -v q -nologo >/dev/null
  dotnet benchmarks/lib/jit-summary/bin/Release/net10.0/jit-summary.dll "$TRACE_DIR/api.nettrace" \
    "$(awk -v a="$TRACE_T0" -v h="$HEALTHY_AT" 'BEGIN { printf "%.2f", h - a }')" 5 || true
  "$TOOLS/dotnet-trace" convert "$TRACE_DIR/api.nettrace" --format Speedscope -o "$TRACE_DIR/api" >/dev/null 2>&1 || true
  echo "-- where the API's threads spent the time (dotnet-trace, sampled thread time): $TRACE_DIR/api.speedscope.json"
  python3 benchmarks/lib/thread-time-summary.py "$TRACE_DIR/api.speedscope.json" 20 || true
fi
