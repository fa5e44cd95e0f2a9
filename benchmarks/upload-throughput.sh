#!/usr/bin/env bash
# Upload throughput through the API: multipart POST /api/response → durable outbox in PostgreSQL → storage.
# Run against a running system (e.g. `dotnet run --project MindJourney.AppHost -c Release`); loopback only.
#   usage: benchmarks/upload-throughput.sh API_BASE SIZE_BYTES COUNT   e.g. http://localhost:5000 26214400 6
set -euo pipefail
api=${1:-http://localhost:5000}; size=$2; count=$3
answer=$(mktemp); file=$(mktemp /tmp/mj-upload-XXXX.webm); head -c "$size" /dev/urandom > "$file"
exp=$(curl -sf "$api/api/experiment" | sed -E 's/.*"id":"([^"]+)".*/\1/')
sid=$(curl -sf -X POST "$api/api/session" -H 'content-type: application/json' -d "{\"experimentId\":\"$exp\"}" | sed -E 's/.*"id":"([^"]+)".*/\1/')
for i in $(seq "$count"); do
  curl -s -o "$answer" -w '%{http_code} %{time_total}\n' \
    -F sessionId="$sid" -F levelId=3 -F questionId=q4 -F responseType=video -F 'responseData={"durationMs":1}' \
    -F "file=@$file;type=video/webm" "$api/api/response"
  grep -o '"status":"[a-z]*"' "$answer" | head -1 >&2
done | sort -k2 -n | awk -v size="$size" '{ if ($1 != 201) bad++; t[NR]=$2; sum+=$2 } END {
  printf "%d uploads of %d bytes: %d not 201; median %.3f s (%.1f MB/s), mean %.3f s, min %.3f s, max %.3f s\n",
  NR, size, bad, t[int((NR+1)/2)], size/t[int((NR+1)/2)]/1e6, sum/NR, t[1], t[NR] }'
rm -f "$file" "$answer"
