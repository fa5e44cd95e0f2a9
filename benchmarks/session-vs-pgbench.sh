#!/usr/bin/env bash
# Benchmark (issue: load harness): POST /api/session through the AppHost (closed model, 64 users, 20 s) next to
# pgbench running the same SQL against the same PostgreSQL in the same sitting. Fresh data folder, default
# durability (fsync on), Release builds. Everything it starts it stops, by PID.
#   usage: benchmarks/session-vs-pgbench.sh [users] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-64}
SECONDS_=${2:-20}
WORK=$(mktemp -d /tmp/mj-session-bench.XXXXXX); chmod 755 "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port)
PGPASS=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
KEY=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
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

echo "== harness: $USERS users, ${SECONDS_} s, POST /api/session through the AppHost =="
( while kill -0 "$API_PID" 2>/dev/null; do ps -o rss= -p "$API_PID"; sleep 1; done ) >"$WORK/rss.log" &
ADMIN_API_KEY="$KEY" dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll \
  --api-url http://localhost:5000/api --users "$USERS" --duration "${SECONDS_}s" --scenario session \
  --report-dir "${REPORT_DIR:-load-reports/session-vs-pgbench}" --quiet || true
echo "API resident memory, max during the run: $(( $(sort -n "$WORK/rss.log" | tail -1) / 1024 )) MB"

for clients in "$USERS" 16; do
  echo "== pgbench: the same SQL, $clients clients, ${SECONDS_} s, same server =="
  PGPASSWORD="$PGPASS" pgbench -n -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney -M prepared \
    -c "$clients" -j 2 -T "$SECONDS_" -f benchmarks/new-visitor.pgbench.sql | grep -E "tps|latency average|number of transactions"
done
