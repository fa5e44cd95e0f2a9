#!/usr/bin/env bash
# Benchmark (issue: load harness): POST /api/session through the AppHost (closed model, 64 users, 20 s) next to
# pgbench running the same SQL against the same PostgreSQL in the same sitting. Fresh data folder, default
# durability (fsync on), Release builds. Everything it starts it stops, by PID.
#   usage: benchmarks/session-vs-pgbench.sh [users] [seconds]
#   DIRECT=1: the API alone on the AppHost's PostgreSQL (no proxy, no OTLP export, warnings-only logging), to
#   separate the API's own cost from the development environment's.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-64}
SECONDS_=${2:-20}
WORK=$(mktemp -d /tmp/mj-session-bench.XXXXXX); chmod 755 "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port)
PGPASS=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
KEY=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
SIGNING_KEY=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
APPHOST_PID=
cleanup() { [ -n "$APPHOST_PID" ] && kill -TERM "$APPHOST_PID" 2>/dev/null && sleep 12; rm -rf "$WORK"; }
trap cleanup EXIT

dotnet build MindJourney.AppHost -c Release -v q -nologo >/dev/null
dotnet build MindJourney.LoadTests -c Release -v q -nologo >/dev/null
# Secrets go in through the environment, never on a command line.
env "Parameters__postgres-password=$PGPASS" "Parameters__admin-api-key=$KEY" \
  dotnet run --project MindJourney.AppHost -c Release --no-build -- \
  MindJourney:Postgres=local MindJourney:DataPath="$WORK/data" MindJourney:LocalPostgres:Port="$PGPORT" \
  >"$WORK/apphost.log" 2>&1 &
APPHOST_PID=$!
until curl -sf http://localhost:5000/api/experiment >/dev/null 2>&1; do sleep 0.5; done
API_PID=$(pgrep -f 'MindJourney.Api/bin/Release/net10.0/MindJourney.Api' | head -1)
API_URL=http://localhost:5000/api
if [ "${DIRECT:-0}" = 1 ]; then
  env "ConnectionStrings__mindjourney=Host=127.0.0.1;Port=$PGPORT;Username=postgres;Password=$PGPASS;Database=mindjourney" \
    "Admin__ApiKey=$KEY" "MindJourney__Idempotency__SigningKey=$SIGNING_KEY" \
    "MindJourney__Pilot__SigningKey=$SIGNING_KEY" \
    MindJourney__RateLimit__SessionsPerWindow=0 ASPNETCORE_URLS=http://127.0.0.1:5100 Logging__LogLevel__Default=Warning \
    dotnet MindJourney.Api/bin/Release/net10.0/MindJourney.Api.dll >"$WORK/api-direct.log" 2>&1 &
  API_PID=$!
  until curl -sf http://127.0.0.1:5100/health >/dev/null 2>&1; do sleep 0.3; done
  API_URL=http://127.0.0.1:5100/api
fi
# Warm-up (JIT, pools, prepared statements), not reported.
ADMIN_API_KEY="$KEY" dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll \
  --api-url "$API_URL" --users "$USERS" --duration 5s --scenario session --report-dir "$WORK/warm-up" --quiet >/dev/null || true

echo "== harness: $USERS users, ${SECONDS_} s, POST /api/session at $API_URL =="
( while kill -0 "$API_PID" 2>/dev/null; do ps -o rss= -p "$API_PID"; sleep 1; done ) >"$WORK/rss.log" &
ADMIN_API_KEY="$KEY" dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll \
  --api-url "$API_URL" --users "$USERS" --duration "${SECONDS_}s" --scenario session \
  --report-dir "${REPORT_DIR:-load-reports/session-vs-pgbench}" --quiet || true
echo "API resident memory, max during the run: $(( $(sort -n "$WORK/rss.log" | tail -1) / 1024 )) MB"
[ "${DIRECT:-0}" = 1 ] && kill "$API_PID"

# The API's pool (16 connections) stays open; the server allows 100, so pgbench's 64 fit beside it.
for clients in "$USERS" 16; do
  echo "== pgbench: the same SQL, $clients clients, ${SECONDS_} s, same server =="
  PGPASSWORD="$PGPASS" pgbench -n -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -c "$clients" -j 2 \
    -T "$SECONDS_" -f benchmarks/new-visitor.pgbench.sql mindjourney | grep -E "tps|latency average|number of transactions"
done
