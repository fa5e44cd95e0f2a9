#!/usr/bin/env bash
# Benchmark: the API's memory while 8 readers at once ask for a full page of a session's answers
# (GET /api/session/{id}/responses?limit=500, with the session's secret), the session holding the largest JSON
# answers it may: ANSWERS answers of ~1 MiB each (default: as many as the per-session quotas allow, 1,000).
# Starts its own PostgreSQL and API (Release, Production settings) on free loopback ports; fills the session
# through the API with the answer rate limit off (only that: the quotas stay), then restarts the API with every
# setting at its default and prints its RSS before the readers and the peak while they read. Stops what it started.
#   usage: benchmarks/answer-list-memory.sh [answers] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
ANSWERS=${1:-1000}
ROUNDS=${2:-3}
READERS=8
BODY_BYTES=1048000 # just under the 1 MiB JSON body limit
WORK_NAME=answer-memory source benchmarks/lib/fresh-system.sh
start_postgres
start_api MindJourney__RateLimit__ResponsesPerWindow=0
API="http://127.0.0.1:$APIPORT"

exp=$(curl -sf "$API/api/experiment" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf -X POST "$API/api/session" -H 'content-type: application/json' -d "{\"experimentId\":\"$exp\"}" >"$WORK/session.json"
sid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/session.json")
secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sessionSecret"])' "$WORK/session.json")
python3 - "$sid" "$BODY_BYTES" >"$WORK/answer.json" <<'PY'
import base64, json, os, sys
sid, size = sys.argv[1], int(sys.argv[2])
envelope = json.dumps({"sessionId": sid, "levelId": "1", "questionId": "q1", "responseType": "email", "responseData": ""})
print(envelope.replace('"responseData": ""', '"responseData": "%s"'
                       % base64.b64encode(os.urandom(size)).decode()[:size - len(envelope)]), end="")
PY

echo "Filling session $sid with $ANSWERS answers of $(stat -c %s "$WORK/answer.json") bytes..."
fill_start=$(date +%s)
seq "$ANSWERS" | xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H 'content-type: application/json' \
  --data-binary @"$WORK/answer.json" "$API/api/response" | sort | uniq -c | sed 's/^/  HTTP /'
echo "Filled in $(( $(date +%s) - fill_start )) s; the session holds $("${PSQL[@]}" -d mindjourney -tA -c \
  "SELECT count(*) || ' answers, ' || pg_size_pretty(sum(octet_length(response_data::text))) FROM experiment_responses")"

# A fresh API with every setting at its default: its high-water mark is the readers', not the filling's.
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
start_api
curl -sf -o /dev/null -H "X-Session-Secret: $secret" "$API/api/session/$sid/responses?limit=1" # warm: JIT, pools
sleep 1
running() { for pid; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$API_PID/status"; }
before=$(kb VmRSS)
peak=$before
for round in $(seq "$ROUNDS"); do
  readers=()
  for _ in $(seq "$READERS"); do
    curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' -H "X-Session-Secret: $secret" \
      "$API/api/session/$sid/responses?limit=500" >>"$WORK/reads.txt" &
    readers+=($!)
  done
  while running "${readers[@]}"; do
    now=$(kb VmRSS); [ "$now" -gt "$peak" ] && peak=$now; sleep 0.05
  done
  wait "${readers[@]}"
done
hwm=$(kb VmHWM); [ "$hwm" -gt "$peak" ] && peak=$hwm
awk '{ n[$1]++; bytes += $2; if ($3 > t) t = $3 } END { for (s in n) printf "  HTTP %s x %d", s, n[s];
  printf "; %.1f MB per page on average, slowest %.2f s\n", bytes / NR / 1e6, t }' "$WORK/reads.txt"
echo "$ROUNDS rounds of $READERS concurrent pages: API RSS before $((before / 1024)) MB, peak $((peak / 1024)) MB," \
  "growth $(((peak - before) / 1024)) MB"
