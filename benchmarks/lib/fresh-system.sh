# Sourced by the benchmarks that need their own PostgreSQL and API (not by itself): a fresh data folder with
# default durability, free loopback ports, Release builds, and a trap that stops what was started, by PID.
#   WORK_NAME=audit source benchmarks/lib/fresh-system.sh
#   start_postgres                      # PGPORT, PSQL=(psql … -U postgres); database "mindjourney" created
#   launch_postgres                     # the server again on the same data folder and port (after a stop or a kill)
#   start_storage_emulator              # optional: STPORT, storage data under $WORK/storage
#   launch_storage_emulator             # the emulator again, same port and objects (after a kill)
#   start_api [NAME=VALUE ...]          # APIPORT, API_PID, admin key KEY; extra environment for the API
#   launch_api [NAME=VALUE ...]         # the same without waiting; wait_healthy waits for /health's 200
#                                       # (API_LOG=name: its log is $WORK/name.log, for a second instance)
#   API_DLL=path start_api ...          # runs that build of the API (a publish folder, say) instead of building one
#   seed_study USERS                    # after start_api: a study of USERS users (lib/seed-study.sql)
BIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$BIN/postgres" ] || BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d "/tmp/mj-${WORK_NAME:-bench}.XXXXXX"); chmod 755 "$WORK"
AS_PG=(); [ "$(id -u)" = 0 ] && { chown postgres:postgres "$WORK"; AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port); APIPORT=$(free_port); STPORT=$(free_port)
KEY=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
SIGNING_KEY=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
PSQL=(psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres)
PG_PID=; API_PID=; ST_PID=
cleanup() {
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null; [ -n "$ST_PID" ] && kill "$ST_PID" 2>/dev/null
  [ -n "$PG_PID" ] && kill -INT "$PG_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT

start_postgres() {
  "${AS_PG[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  launch_postgres
  "${PSQL[@]}" -c 'CREATE DATABASE mindjourney'
}

launch_postgres() {
  "${AS_PG[@]}" "$BIN/postgres" -D "$WORK/data" -p "$PGPORT" -h 127.0.0.1 -k "" -c shared_buffers=512MB \
    -c max_wal_size=4GB >>"$WORK/pg.log" 2>&1 &
  PG_PID=$!
  until "${PSQL[@]}" -c 'select 1' >/dev/null 2>&1; do sleep 0.2; done
}

start_storage_emulator() {
  dotnet build MindJourney.StorageEmulator -c Release -v q -nologo >/dev/null
  launch_storage_emulator
}

# The emulator again on the same port and objects (after a kill).
launch_storage_emulator() {
  mkdir -p "$WORK/storage"
  Storage__DataPath="$WORK/storage" Logging__LogLevel__Default=Warning \
    dotnet MindJourney.StorageEmulator/bin/Release/net10.0/MindJourney.StorageEmulator.dll --urls "http://127.0.0.1:$STPORT" \
    >>"$WORK/storage.log" 2>&1 &
  ST_PID=$!
}

launch_api() {
  [ -n "${API_DLL:-}" ] || dotnet build MindJourney.Api -c Release -v q -nologo >/dev/null
  env "ConnectionStrings__mindjourney=Host=127.0.0.1;Port=$PGPORT;Username=postgres;Database=mindjourney" "Admin__ApiKey=$KEY" \
    "MindJourney__Idempotency__SigningKey=$SIGNING_KEY" "MindJourney__Pilot__SigningKey=$SIGNING_KEY" \
    "ASPNETCORE_URLS=http://127.0.0.1:$APIPORT" Logging__LogLevel__Default=Warning "$@" \
    dotnet "${API_DLL:-MindJourney.Api/bin/Release/net10.0/MindJourney.Api.dll}" >>"$WORK/${API_LOG:-api}.log" 2>&1 &
  API_PID=$!
}

wait_healthy() { until curl -sf "http://127.0.0.1:$APIPORT/health" >/dev/null 2>&1; do sleep "${1:-0.5}"; done; }

start_api() { launch_api "$@"; wait_healthy; }

# A study of $1 users, each with one session and two responses, with a few burned numbers and unnumbered sessions
# (lib/seed-study.sql), into the database the API created.
seed_study() {
  echo "Seeding $1 users, sessions and $((2 * $1)) responses..."
  local started; started=$(date +%s)
  "${PSQL[@]}" -d mindjourney -v users="$1" -f benchmarks/lib/seed-study.sql
  echo "Seeded in $(( $(date +%s) - started )) s"
}
