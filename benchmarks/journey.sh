#!/usr/bin/env bash
# Benchmark: whole participant journeys (experiment, Play, levels, text answers, a voice upload, completion) through
# the API alone (Release, Production settings, per-client limits off), with the storage emulator running, from the
# load harness's closed model after a 5 s warm-up. Prints the harness's summary: each step's rate and latency, and
# every check (unique numbers, answers and objects carrying their session's number, uploads verified, every answer
# stored exactly once, a clean audit). Then the capacity per participant (docs/SCALING.md builds on it): completed
# participants per second, the CPU one costs the API, PostgreSQL (server and backends), the storage emulator and
# the harness, the WAL it writes, and so the participants per second one core of each would take. These are sampled
# each second and taken from the end of the warm-up to the last completion: the harness's start and its checks
# afterwards (audit, export, downloads) are left out. Everything it starts it stops, by PID.
#   usage: benchmarks/journey.sh [users] [seconds] [harness options ...]   e.g. benchmarks/journey.sh 20 60 --flaky 20
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-20}
SECONDS_=${2:-30}
shift $(( $# < 2 ? $# : 2 ))
WARM_UP=5
WORK_NAME=journey source benchmarks/lib/fresh-system.sh
BUCKET=mindjourney-bench.appspot.com
dotnet build MindJourney.LoadTests -c Release -v q -nologo >/dev/null
start_postgres
start_storage_emulator
start_api STORAGE_EMULATOR_HOST="127.0.0.1:$STPORT" FIREBASE_STORAGE_BUCKET="$BUCKET" \
  MindJourney__RateLimit__SessionsPerWindow=0 MindJourney__RateLimit__ResponsesPerWindow=0 \
  MindJourney__RateLimit__DownloadsPerWindow=0 MindJourney__RateLimit__ReadsPerWindow=0 \
  MindJourney__RateLimit__SessionUpdatesPerWindow=0 MindJourney__RateLimit__ResponsePagesPerWindow=0 \
  MindJourney__Storage__MaxUploadsInFlightPerClient=0 MindJourney__Storage__UploadBytesPerClientPerHour=0

dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll --api-url "http://127.0.0.1:$APIPORT/api" \
  --users "$USERS" --duration "${SECONDS_}s" --warm-up "${WARM_UP}s" --scenario journey --admin-key "$KEY" \
  --report-dir "$WORK/report" --quiet "$@" &
HARNESS_PID=$!

# CPU (user + system, clock ticks) of processes; PostgreSQL is the server and its backends (the API's pooled
# connections live through the run).
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do [ -r "/proc/$pid/stat" ] && total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat") )); done
  echo "$total"
}
COUNTS="SELECT count(*) FILTER (WHERE is_completed), pg_current_wal_lsn() - '0/0'::pg_lsn FROM experiment_sessions"
# One line a second while the harness runs: time (ms), completed participants, WAL bytes, then the CPU ticks of the
# API, PostgreSQL, the storage emulator and the harness.
while kill -0 "$HARNESS_PID" 2>/dev/null; do
  SAMPLE=$("${PSQL[@]}" -d mindjourney -At -F ' ' -c "$COUNTS" 2>/dev/null) || SAMPLE=
  [ -n "$SAMPLE" ] && echo "$(date +%s%3N) $SAMPLE $(cpu_ticks "$API_PID") $(cpu_ticks "$PG_PID" $(pgrep -P "$PG_PID")) \
$(cpu_ticks "$ST_PID") $(cpu_ticks "$HARNESS_PID")" >>"$WORK/samples.txt"
  sleep 1
done
RC=0; wait "$HARNESS_PID" || RC=$?

echo "== capacity per participant (the API alone, PostgreSQL, storage emulator and harness on $(nproc) shared cores) =="
awk -v hz="$(getconf CLK_TCK)" -v warm="$WARM_UP" '
  $7 > 0 { n_++; t[n_] = $1; done_[n_] = $2; wal[n_] = $3; api[n_] = $4; pg[n_] = $5; st[n_] = $6; lg[n_] = $7 }
  END {
    NR = n_                                                          # samples taken while the harness still ran
    for (i = 1; i <= NR && done_[i] == 0; i++) ;                      # the first completion
    for (a = i; a <= NR && t[a] - t[i] < warm * 1000; a++) ;          # the warm-up is over
    for (b = NR; b > a && done_[b - 1] == done_[NR]; b--) ;           # the last completion
    n = done_[b] - done_[a]; secs = (t[b] - t[a]) / 1000
    if (a >= b || n <= 0) { print "too few samples to measure"; exit }
    apiMs = (api[b] - api[a]) / hz * 1000 / n; pgMs = (pg[b] - pg[a]) / hz * 1000 / n
    printf "window: %.0f s, %d participants completed: %.1f participants/s\n", secs, n, n / secs
    printf "CPU per participant: API %.2f ms, PostgreSQL %.2f ms, storage emulator %.2f ms, harness %.2f ms\n", \
      apiMs, pgMs, (st[b] - st[a]) / hz * 1000 / n, (lg[b] - lg[a]) / hz * 1000 / n
    printf "WAL per participant: %.0f bytes\n", (wal[b] - wal[a]) / n
    printf "participants/s per core: API %.0f, PostgreSQL %.0f, the two together %.0f\n", \
      1000 / apiMs, 1000 / pgMs, 1000 / (apiMs + pgMs)
  }' "$WORK/samples.txt"
exit "$RC"
