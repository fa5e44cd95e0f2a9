#!/usr/bin/env bash
# Benchmark (issue: uploads that cost the database nothing while storage answers): SIZE-byte videos sent straight to
# our storage emulator and through the API (multipart POST /api/response), in one sitting on a fresh system: its own
# PostgreSQL (default durability), the emulator (on disk) and the API (Release) on loopback ports, stopped by PID at
# the end. First COUNT uploads one after another, straight and through the API in turn; then CLIENTS clients at once,
# COUNT uploads each, straight and then through the API. Prints medians, throughput, their ratio (API / straight),
# the answers' storage status and the WAL PostgreSQL wrote per uploaded MiB (pg_current_wal_lsn before and after).
#   usage: benchmarks/upload-throughput.sh [size_bytes] [count] [clients]      (default 26214400 6 4)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-26214400}
COUNT=${2:-6}
CLIENTS=${3:-4}
BUCKET=mindjourney-bench.appspot.com
WORK_NAME=upload-bench source benchmarks/lib/fresh-system.sh
start_postgres
start_storage_emulator
start_api STORAGE_EMULATOR_HOST="127.0.0.1:$STPORT" FIREBASE_STORAGE_BUCKET="$BUCKET" \
  MindJourney__Storage__UploadBytesPerClientPerHour=0 MindJourney__RateLimit__SessionsPerWindow=0 \
  MindJourney__RateLimit__ResponsesPerWindow=0
API="http://127.0.0.1:$APIPORT"
STORE="http://127.0.0.1:$STPORT/upload/storage/v1/b/$BUCKET/o?uploadType=media"
head -c "$SIZE" /dev/urandom >"$WORK/file.webm"
EXPERIMENT=$(curl -sf "$API/api/experiment" | sed -E 's/.*"id":"([^"]+)".*/\1/')

new_session() {
  curl -sf -X POST "$API/api/session" -H 'content-type: application/json' -d "{\"experimentId\":\"$EXPERIMENT\"}" |
    sed -E 's/.*"id":"([^"]+)".*/\1/'
}
# One upload straight to storage (a media upload, one request): "<http code> <seconds> straight".
straight() {
  curl -s -o /dev/null -w '%{http_code} %{time_total} straight\n' -H 'content-type: video/webm' \
    --data-binary "@$WORK/file.webm" "$STORE&name=bench/$1"
}
# One upload through the API: "<http code> <seconds> <storage status>".
through_api() {
  local out line
  out=$(mktemp -p "$WORK")
  line=$(curl -s -o "$out" -w '%{http_code} %{time_total}' -F sessionId="$1" -F levelId=3 -F questionId=q4 \
    -F responseType=video -F 'responseData={"durationMs":1}' -F "file=@$WORK/file.webm;type=video/webm" "$API/api/response")
  echo "$line $(grep -o '"status":"[a-z]*"' "$out" | head -1 | cut -d'"' -f4)"
  rm -f "$out"
}
# Median seconds of "<code> <seconds> <status>" lines on stdin, then what they were.
summary() {
  sort -k2 -n | awk -v size="$SIZE" '{ if ($1 !~ /^20[01]$/) bad++; t[NR] = $2; status[$3]++ } END {
    m = t[int((NR + 1) / 2)]; s = ""; for (k in status) s = s " " k "=" status[k]
    printf "%.3f %d uploads, median %.3f s (%.1f MB/s), min %.3f s, max %.3f s, %d failed;%s\n",
      m, NR, m, size / m / 1e6, t[1], t[NR], bad, s }'
}
wal() { "${PSQL[@]}" -d mindjourney -At -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }
now() { date +%s.%N; }

# CPU seconds the process has used, in clock ticks (1/100 s).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Waits (up to 20 s) until the process uses under 5% of a core.
wait_quiet() {
  local before
  for _ in $(seq 40); do
    before=$(cpu_ticks "$1"); sleep 0.5
    [ $(( $(cpu_ticks "$1") - before )) -le 2 ] && return
  done
}

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $SIZE bytes per upload =="
SESSION=$(new_session)
# Warm, as a server in use is: 40 uploads each way (1 MiB: the same code paths), enough calls for the runtime to
# recompile the hot ones (tiered JIT), then that background compilation is let finish; measured meanwhile, it took
# a core from the uploads (a fifth of the API's CPU).
cp "$WORK/file.webm" "$WORK/full.webm"; head -c 1048576 "$WORK/full.webm" >"$WORK/file.webm"
WARM_SESSION=$(new_session) # a session takes 50 files at most
for i in $(seq 40); do straight "warmup-$i" >/dev/null; through_api "$WARM_SESSION" >/dev/null; done
mv "$WORK/full.webm" "$WORK/file.webm"
wait_quiet "$API_PID"

echo "== one client: $COUNT uploads straight to storage and $COUNT through the API, in turn =="
: >"$WORK/straight.txt"; : >"$WORK/api.txt"; API_WAL=0
for i in $(seq "$COUNT"); do
  straight "one-$i" >>"$WORK/straight.txt"
  before=$(wal); through_api "$SESSION" >>"$WORK/api.txt"; API_WAL=$(( API_WAL + $(wal) - before ))
done
STRAIGHT=$(summary <"$WORK/straight.txt"); THROUGH=$(summary <"$WORK/api.txt")
echo "straight:    ${STRAIGHT#* }"
echo "through API: ${THROUGH#* }"
echo "ratio (API throughput / straight): $(echo "scale=2; ${STRAIGHT%% *} / ${THROUGH%% *}" | bc)"
echo "WAL per uploaded MiB through the API: $(( API_WAL * 1048576 / (COUNT * SIZE) )) bytes"

# CLIENTS loops of COUNT uploads each; prints the aggregate MB/s.
together() {
  local kind=$1 started ended c loops=()
  : >"$WORK/$kind-together.txt"
  started=$(now)
  for c in $(seq "$CLIENTS"); do
    (
      session=$( [ "$kind" = api ] && new_session || echo none )
      for i in $(seq "$COUNT"); do
        if [ "$kind" = api ]; then through_api "$session"; else straight "many-$c-$i"; fi
      done >>"$WORK/$kind-together.txt"
    ) &
    loops+=($!)
  done
  wait "${loops[@]}"
  ended=$(now)
  echo "$(echo "scale=1; $CLIENTS * $COUNT * $SIZE / ($ended - $started) / 1000000" | bc) MB/s in total;" \
    "$(summary <"$WORK/$kind-together.txt" | cut -d' ' -f2-)"
}
echo "== $CLIENTS clients at once, $COUNT uploads each =="
STRAIGHT_MANY=$(together straight)
before=$(wal); THROUGH_MANY=$(together api); MANY_WAL=$(( $(wal) - before ))
echo "straight:    $STRAIGHT_MANY"
echo "through API: $THROUGH_MANY"
echo "ratio (API throughput / straight): $(echo "scale=2; ${THROUGH_MANY%% *} / ${STRAIGHT_MANY%% *}" | bc)"
echo "WAL per uploaded MiB through the API: $(( MANY_WAL * 1048576 / (CLIENTS * COUNT * SIZE) )) bytes"
