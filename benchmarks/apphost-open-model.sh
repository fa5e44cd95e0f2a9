#!/usr/bin/env bash
# Benchmark (issue: the dev loop under load): the whole development environment (dotnet run --project
# MindJourney.AppHost: dashboard, API, local PostgreSQL), the harness offering an open model of RATE sessions/s for
# SECONDS s against http://localhost:5000, and what each process costs meanwhile (top, % of one core). Prints the
# harness's p99 and who holds port 5000 (with one replica, the API itself: no proxy in between). Release builds, a
# fresh data folder; everything it starts it stops, by PID.
#   usage: benchmarks/apphost-open-model.sh [rate] [seconds] [trace-sample-ratio]
#   trace-sample-ratio: passed as MindJourney:Telemetry:TraceSampleRatio (default: the API's, 1 = every trace).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-1000}
SECONDS_=${2:-20}
RATIO=${3:-}
WORK=$(mktemp -d /tmp/mj-apphost-open.XXXXXX); chmod 755 "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port)
PGPASS=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
KEY=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
APPHOST_PID=
cleanup() {
  if [ -n "$APPHOST_PID" ] && kill -TERM "$APPHOST_PID" 2>/dev/null; then
    for _ in $(seq 30); do kill -0 "$APPHOST_PID" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

dotnet build MindJourney.AppHost -c Release -v q -nologo >/dev/null
dotnet build MindJourney.LoadTests -c Release -v q -nologo >/dev/null
SETTINGS=(MindJourney:Postgres=local MindJourney:DataPath="$WORK/data" MindJourney:LocalPostgres:Port="$PGPORT")
[ -n "$RATIO" ] && SETTINGS+=("MindJourney:Telemetry:TraceSampleRatio=$RATIO")
# Secrets go in through the environment, never on a command line.
env "Parameters__postgres-password=$PGPASS" "Parameters__admin-api-key=$KEY" \
  dotnet run --project MindJourney.AppHost -c Release --no-build -- "${SETTINGS[@]}" >"$WORK/apphost.log" 2>&1 &
APPHOST_PID=$!
for _ in $(seq 240); do curl -sf http://localhost:5000/api/experiment >/dev/null 2>&1 && break; sleep 0.5; done
API_PID=$(pgrep -f 'MindJourney.Api/bin/Release/net10.0/MindJourney.Api' | head -1)
DASHBOARD_PID=$(pgrep -f 'Aspire.Dashboard' | head -1)
echo "port 5000 held by: $(ss -ltnpH 'sport = :5000' | grep -o 'users:(("[^"]*",pid=[0-9]*' | sed 's/users:(("//' | sort -u)"
echo "api pid $API_PID$(tr '\0' '\n' <"/proc/$API_PID/environ" | grep -o 'MindJourney__Telemetry__.*' | sed 's/^/, /' | tr -d '\n')"

harness() {
  ADMIN_API_KEY="$KEY" dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll \
    --api-url http://localhost:5000/api --rate "$RATE" --warm-up 5s --duration "$1" --scenario session --report-dir "$WORK/$2" \
    --quiet \
    >"$WORK/$2.txt" 2>&1 &
  HARNESS_PID=$!
}
echo "== open model: $RATE sessions/s, ${SECONDS_} s, through the AppHost =="
harness "${SECONDS_}s" run
sleep 8 # past the harness's start and its 5 s warm-up
# Four 4 s samples in the middle of the run; top's first sample counts from the process's start, so it is dropped.
top -b -d 4 -n 5 -p "$DASHBOARD_PID,$API_PID,$HARNESS_PID" >"$WORK/top.txt"
wait "$HARNESS_PID" || true
awk -v d="$DASHBOARD_PID" -v a="$API_PID" -v h="$HARNESS_PID" '
  /^top -/ { n++ } n > 1 && ($1 == d || $1 == a || $1 == h) { sum[$1] += $9; cnt[$1]++ }
  END { printf "CPU, %% of one core: dashboard %.0f, api %.0f, harness %.0f\n", sum[d] / cnt[d], sum[a] / cnt[a], sum[h] / cnt[h] }
' "$WORK/top.txt"
jq -r '"sessions/s \(.totals.ok / .durationSeconds | floor), dropped \(.totals.dropped), failed \(.totals.failed), " +
  "p99 \(.allRequests.percentiles[] | select(.percentile == 99) | .ms) ms; checks: " +
  ([.checks[] | select(.outcome != "Skipped") | .name + " " + .outcome] | join(", "))' "$WORK/run/report.json"
jq -r '"p50 \(.allRequests.percentiles[] | select(.percentile == 50) | .ms) ms; p99 of each second (ms): " +
  ([.series[] | .p99Ms | floor] | map(tostring) | join(" "))' "$WORK/run/report.json"
