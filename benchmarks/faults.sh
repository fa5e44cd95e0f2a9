#!/usr/bin/env bash
# The fault suite (docs/RELIABILITY.md): each scenario on a fresh system (its own PostgreSQL from the machine's
# binaries, the storage emulator, 1 to 3 Release APIs with Production settings and per-client limits off, on loopback
# ports), the load harness writing a ledger of every acknowledged session and answer (--ledger), one fault injected
# at a fixed second by the PID this script started, then `MindJourney.LoadTests verify-ledger` checking the database
# and storage against the ledger. One Markdown row per scenario: acknowledged, found, lost, duplicate numbers, burned
# numbers (live numbers the sequence drew that nobody holds), refusals from the fault on by status, seconds from the
# fault's end to the first acknowledgement and to no upload pending from before it, the longest request, and uploads
# whose bytes differ. Exit code 1 when any scenario loses, changes or duplicates anything.
#   usage: benchmarks/faults.sh [scenario ...]     scenarios 1-9 (default all), e.g. benchmarks/faults.sh 1 4
#   FAULTS_LOGS=dir keeps each scenario's logs and ledger in dir/<n>/ (the system's folder is removed at its end).
#   1 PostgreSQL SIGKILL at 8 s, started again at 20 s; session scenario, 40 s
#   2 the same, journey scenario (answers and uploads)
#   3 PostgreSQL fast shutdown (SIGINT) at 8 s, started again at 20 s: a managed database's maintenance restart
#   4 storage emulator SIGKILL at 8 s, started again at 23 s; journey
#   5 one of 3 API instances SIGKILL at 7 s (not restarted); the harness spreads the load (--targets); journey
#   6 one of 2 instances SIGTERM at 8 s (the graceful path), started again once it exited (a rolling restart); journey
#   7 the network between the API and PostgreSQL partitioned from 8 s to 18 s (connections open but silent: the
#     harness's partition-proxy); journey, the harness's request timeout raised to 60 s so a hang would show
#   8 the upload spool folder's disk full from 8 s to 18 s (a 20 MiB tmpfs, filled); journey
#   9 as 7, the partition held 40 s (8 s to 48 s) in a 60 s run, under the session scenario (Play only, 16 users):
#     longer than Npgsql's timeouts, so the longest request shows the API's own deadline for Play
#     (MindJourney:Database:RequestDeadlineSeconds, 10 s), not the partition; SCENARIO9_KIND=journey runs it under
#     the journey scenario (10 users), where every participant route waits at most that deadline too
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIOS=("$@"); [ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(1 2 3 4 5 6 7 8 9)
RUN_SECONDS=40
BUCKET=mindjourney-faults.appspot.com
RESULTS=$(mktemp /tmp/mj-faults-results.XXXXXX)
dotnet build MindJourney.Api -c Release -v q -nologo >/dev/null
dotnet build MindJourney.StorageEmulator -c Release -v q -nologo >/dev/null
dotnet build MindJourney.LoadTests -c Release -v q -nologo >/dev/null
HARNESS=(dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll)
export API_DLL=MindJourney.Api/bin/Release/net10.0/MindJourney.Api.dll
now_ms() { date +%s%3N; }

# One scenario on its own fresh system, in a subshell (its trap stops what it started).
scenario() (
  local n=$1 name users=10 kind=journey instances=1 timeout=30s run_seconds=$RUN_SECONDS partition_seconds=10
  WORK_NAME=faults-$n source benchmarks/lib/fresh-system.sh
  local pids=() ports=() proxy_pid= spool= fault_start= fault_end=
  stop_extra() {
    local p; for p in "${pids[@]}" $proxy_pid; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "$spool" ] && umount "$spool" || true
  }
  trap 'stop_extra; cleanup' EXIT
  case $n in
    1) name="PostgreSQL SIGKILL 8-20 s, session"; kind=session; users=16 ;;
    2) name="PostgreSQL SIGKILL 8-20 s, journey" ;;
    3) name="PostgreSQL fast shutdown 8-20 s, journey" ;;
    4) name="storage emulator SIGKILL 8-23 s, journey" ;;
    5) name="1 of 3 APIs SIGKILL at 7 s, journey"; instances=3 ;;
    6) name="1 of 2 APIs SIGTERM at 8 s, restarted, journey"; instances=2 ;;
    7) name="API-PostgreSQL partition 8-18 s, journey"; timeout=60s ;;
    8) name="spool disk full 8-18 s, journey" ;;
    9) kind=${SCENARIO9_KIND:-session}; users=$([ "$kind" = session ] && echo 16 || echo 10)
       name="API-PostgreSQL partition 8-48 s, $kind"; timeout=60s; run_seconds=60; partition_seconds=40 ;;
    *) echo "unknown scenario $n" >&2; return 2 ;;
  esac
  start_postgres
  launch_storage_emulator
  local dbport=$PGPORT
  if [ "$n" = 7 ] || [ "$n" = 9 ]; then
    dbport=$(free_port)
    "${HARNESS[@]}" partition-proxy --listen "$dbport" --to "$PGPORT" >"$WORK/proxy.log" 2>&1 &
    proxy_pid=$!
  fi
  local extra=()
  if [ "$n" = 8 ]; then
    spool="$WORK/spool"; mkdir -p "$spool"
    if mount -t tmpfs -o size=20m tmpfs "$spool" 2>/dev/null; then extra+=(MindJourney__Storage__SpoolPath="$spool")
    else echo "scenario 8 needs root to mount a 20 MiB tmpfs for the spool folder; skipped" >&2; spool=; return 0; fi
  fi
  api_env=(STORAGE_EMULATOR_HOST="127.0.0.1:$STPORT" FIREBASE_STORAGE_BUCKET="$BUCKET"
    "ConnectionStrings__mindjourney=Host=127.0.0.1;Port=$dbport;Username=postgres;Database=mindjourney"
    MindJourney__RateLimit__SessionsPerWindow=0 MindJourney__RateLimit__ResponsesPerWindow=0
    MindJourney__RateLimit__DownloadsPerWindow=0 MindJourney__RateLimit__ReadsPerWindow=0
    MindJourney__RateLimit__SessionUpdatesPerWindow=0 MindJourney__RateLimit__ResponsePagesPerWindow=0
    MindJourney__Storage__MaxUploadsInFlightPerClient=0 MindJourney__Storage__UploadBytesPerClientPerHour=0 "${extra[@]}")
  local i
  for ((i = 0; i < instances; i++)); do
    [ "$i" = 0 ] || APIPORT=$(free_port)
    API_LOG=api-$i launch_api "${api_env[@]}"; wait_healthy
    pids+=("$API_PID"); ports+=("$APIPORT"); API_PID=
  done
  local targets; targets=$(printf 'http://127.0.0.1:%s/api,' "${ports[@]}")
  local db="Host=127.0.0.1;Port=$PGPORT;Username=postgres;Database=mindjourney"

  "${HARNESS[@]}" --api-url "http://127.0.0.1:${ports[0]}/api" --targets "${targets%,}" --users "$users" \
    --duration "${run_seconds}s" --scenario "$kind" --timeout "$timeout" --report-dir "$WORK/report" --quiet \
    --ledger "$WORK/ledger.jsonl" >"$WORK/harness.log" 2>&1 &
  local harness=$! harness_start; harness_start=$(now_ms)
  case $n in
    1|2|3)
      sleep 8; fault_start=$(now_ms)
      if [ "$n" = 3 ]; then kill -INT "$PG_PID"; else kill -9 "$PG_PID" $(pgrep -P "$PG_PID") 2>/dev/null || true; fi
      sleep 12; wait "$PG_PID" 2>/dev/null || true
      launch_postgres; fault_end=$(now_ms) ;;
    4)
      sleep 8; fault_start=$(now_ms); kill -9 "$ST_PID"
      sleep 15; launch_storage_emulator
      until curl -s -o /dev/null "http://127.0.0.1:$STPORT/"; do sleep 0.1; done; fault_end=$(now_ms) ;;
    5)
      sleep 7; fault_start=$(now_ms); kill -9 "${pids[1]}"; fault_end=$fault_start ;;
    6)
      sleep 8; fault_start=$(now_ms); kill -TERM "${pids[1]}"
      while kill -0 "${pids[1]}" 2>/dev/null; do sleep 0.1; done
      echo "the instance exited $(( $(now_ms) - fault_start )) ms after SIGTERM" >"$WORK/exit.txt"
      APIPORT=${ports[1]} API_LOG=api-1 launch_api "${api_env[@]}"; pids[1]=$API_PID; API_PID=
      APIPORT=${ports[1]} wait_healthy 0.1; fault_end=$(now_ms) ;;
    7|9)
      sleep 8; fault_start=$(now_ms); kill -USR1 "$proxy_pid"
      sleep "$partition_seconds"; kill -USR2 "$proxy_pid"; fault_end=$(now_ms) ;;
    8)
      sleep 8; fault_start=$(now_ms); dd if=/dev/zero of="$spool/filler" bs=1M count=64 2>/dev/null || true
      sleep 10; rm -f "$spool/filler"; fault_end=$(now_ms) ;;
  esac

  # Seconds from the fault's end until no answer recorded before it is still pending delivery to storage.
  local drain=
  if [ "$kind" = journey ]; then
    local pending
    while :; do
      pending=$("${PSQL[@]}" -d mindjourney -At -c "SELECT count(*) FROM experiment_responses WHERE storage_status = 'pending'
        AND created_at <= to_timestamp($fault_end / 1000.0)" 2>/dev/null) || pending=
      [ "$pending" = 0 ] && { drain=$(awk -v a="$(now_ms)" -v b="$fault_end" 'BEGIN { printf "%.1f", (a - b) / 1000 }'); break; }
      (( $(now_ms) - fault_end > 120000 )) && break
      sleep 0.5
    done
  fi
  wait "$harness" || true
  # What the run left pending is delivered before the bytes are read back (they are checked either way).
  for ((i = 0; i < 120; i++)); do
    [ "$("${PSQL[@]}" -d mindjourney -At -c "SELECT count(*) FROM storage_deliveries")" = 0 ] && break; sleep 0.5
  done
  echo "== scenario $n: $name =="
  local rc=0
  "${HARNESS[@]}" verify-ledger --ledger "$WORK/ledger.jsonl" --database "$db" --storage-emulator "127.0.0.1:$STPORT" \
    --bucket "$BUCKET" --fault-start "$fault_start" --fault-end "$fault_end" ${drain:+--drain-seconds "$drain"} \
    --label "$n. $name" >"$WORK/verify.txt" || rc=$?
  awk -v s="$harness_start" -v a="$fault_start" -v b="$fault_end" \
    'BEGIN { printf "fault from %.1f s to %.1f s after the harness started\n", (a - s) / 1000, (b - s) / 1000 }'
  [ -f "$WORK/exit.txt" ] && cat "$WORK/exit.txt"
  head -n -1 "$WORK/verify.txt"
  [ -f "$WORK/proxy.log" ] && echo "proxy: $(tr '\n' ' ' <"$WORK/proxy.log")"
  grep -h -i -m3 -E 'fail|error' "$WORK"/api-*.log 2>/dev/null | cut -c1-200 | sed 's/^/  api log: /' || true
  tail -n 1 "$WORK/verify.txt" >>"$RESULTS"
  [ -n "${FAULTS_LOGS:-}" ] && mkdir -p "$FAULTS_LOGS/$n" && cp "$WORK"/*.log "$WORK"/*.txt "$WORK"/ledger.jsonl "$FAULTS_LOGS/$n/"
  return "$rc"
)

RC=0
for n in "${SCENARIOS[@]}"; do scenario "$n" || RC=1; done
echo
echo "== the fault suite ($(nproc) shared cores, $(date -u +%Y-%m-%d)) =="
echo "| scenario | acknowledged | found | lost | duplicates | burned (gaps) | refused from the fault on | first success s |" \
  "drain s | longest request s | differing uploads |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
cat "$RESULTS"; rm -f "$RESULTS"
exit "$RC"
