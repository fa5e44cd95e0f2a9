#!/usr/bin/env bash
# Benchmark: whole participant journeys (experiment, Play, levels, text answers, a voice upload, completion) through
# the API alone (Release, Production settings, per-client limits off), with the storage emulator running, from the
# load harness's closed model after a 5 s warm-up. Prints the harness's summary: each step's rate and latency, and
# every check (unique numbers, answers and objects carrying their session's number, uploads verified, a clean audit).
# Everything it starts it stops, by PID.
#   usage: benchmarks/journey.sh [users] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-20}
SECONDS_=${2:-30}
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
  --users "$USERS" --duration "${SECONDS_}s" --warm-up 5s --scenario journey --admin-key "$KEY" \
  --report-dir "$WORK/report" --quiet
