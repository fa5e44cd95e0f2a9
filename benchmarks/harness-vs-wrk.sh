#!/usr/bin/env bash
# Benchmark (issue: the harness must not be the bottleneck): the API alone (Release, its own PostgreSQL with
# default durability), the same requests from wrk and from the load harness, one after the other: POST /api/session
# with {"experimentId":…} and a unique Idempotency-Key each, as the page sends. Prints both rates and their ratio.
# Both get a 5 s warm-up first (JIT, pools). Everything it starts it stops, by PID.
#   usage: benchmarks/harness-vs-wrk.sh [connections] [seconds]
#   TRACE=file.nettrace: also records where the harness's CPU goes during its run (dotnet-trace, sampled thread time;
#   dotnet tool install -g dotnet-trace; read it with benchmarks/lib/thread-time-summary.py).
#   CPU per session is each generator's own, measured from /proc over the run's middle (its start and end left out).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
CONNECTIONS=${1:-64}
SECONDS_=${2:-20}
WORK_NAME=harness-vs-wrk source benchmarks/lib/fresh-system.sh
dotnet build MindJourney.LoadTests -c Release -v q -nologo >/dev/null
start_postgres
start_api MindJourney__RateLimit__SessionsPerWindow=0
API=http://127.0.0.1:$APIPORT/api

# CPU (user + system, clock ticks) of a process, to time each generator's cost per session while it runs.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
WINDOW=$(( SECONDS_ - 6 ))
wrk_rate() {
  wrk -t 2 -c "$CONNECTIONS" -d "$1" -s benchmarks/unique-key-play.lua "$API/session" >"$WORK/wrk.txt" &
  local pid=$! before
  if [ "$2" = run ]; then
    sleep 3; before=$(cpu_ticks "$pid"); sleep "$WINDOW"; echo $(( $(cpu_ticks "$pid") - before )) >"$WORK/wrk.ticks"
  fi
  wait "$pid"
  grep -q "Non-2xx" "$WORK/wrk.txt" && { cat "$WORK/wrk.txt" >&2; echo "wrk got refusals" >&2; exit 1; }
  awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt"
}
harness() {
  ADMIN_API_KEY="$KEY" dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll --api-url "$API" \
    --users "$CONNECTIONS" --duration "$1" --scenario session --report-dir "$WORK/$2" --quiet >"$WORK/$2.txt" 2>&1 &
  local pid=$! before
  if [ "$2" = run ]; then
    sleep 3; before=$(cpu_ticks "$pid")
    if [ -n "${TRACE:-}" ]; then
      "${DOTNET_TRACE:-dotnet-trace}" collect -p "$pid" --profile dotnet-sampled-thread-time --duration "00:00:$WINDOW" \
        -o "$TRACE" >"$WORK/trace.txt" 2>&1 || cat "$WORK/trace.txt" >&2
    else
      sleep "$WINDOW"
    fi
    echo $(( $(cpu_ticks "$pid") - before )) >"$WORK/run.ticks"
  fi
  wait "$pid" || true
  jq -r '.totals.rps' "$WORK/$2/report.json"
}
# Microseconds of CPU per session: CPU over the window divided by the sessions in it (at the run's mean rate).
per_session() { awk -v t="$(cat "$WORK/$1.ticks")" -v r="$2" -v w="$WINDOW" -v hz="$(getconf CLK_TCK)" \
  'BEGIN {printf "%.0f", t / hz / w / r * 1e6}'; }

wrk_rate 5s warm-up >/dev/null
WRK=$(wrk_rate "${SECONDS_}s" run)
echo "wrk:     $CONNECTIONS connections, ${SECONDS_} s: $WRK sessions/s, $(per_session wrk "$WRK") µs CPU per session"
harness 5s warm-up >/dev/null
HARNESS=$(harness "${SECONDS_}s" run)
echo "harness: $CONNECTIONS users, ${SECONDS_} s: $(printf '%.0f' "$HARNESS") sessions/s, $(per_session run "$HARNESS") µs CPU per session"
jq -r '"harness checks: " + ([.checks[] | .name + " " + .outcome] | join(", "))' "$WORK/run/report.json"
python3 -c "print(f'harness / wrk: {$HARNESS / $WRK:.2f}')"
