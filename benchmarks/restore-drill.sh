#!/usr/bin/env bash
# The restore drill (docs/RELIABILITY.md): a backup taken under load, restored to a new server, reopened exactly as
# docs/DEPLOY.md section 8 says, load resumed; then no number handed out after the restore may be one handed out
# before it, including those acknowledged after the backup, which the restore lost. On a fresh system (PostgreSQL from
# the machine's binaries, the storage emulator, a Release API with Production settings, loopback ports):
#   1. journeys (the load harness, with a ledger) and pilots (one a second) for 24 s; `pg_dump -Fc` at 10 s;
#   2. the API stopped and the first server killed: the disaster;
#   3. a new server, `pg_restore`, then DEPLOY.md's recipe: the highest `visitorNumber` in the bucket's objects' metadata
#      plus the margin, given to both sequences with setval;
#   4. the API started on the restored server, 10 s more of the same load;
#   5. the checks: the ledgers of before and after never share a number (live and pilot apart); how many
#      acknowledged sessions the restore lost, and how many of them the bucket's objects name (the rest answered
#      nothing before the disaster: only the margin covers them); verify-ledger on the load after the restore.
#   usage: benchmarks/restore-drill.sh [margin]        (default 1000, as DEPLOY.md suggests)
set -euo pipefail
cd "$(dirname "$0")/.."
MARGIN=${1:-1000}
BUCKET=mindjourney-drill.appspot.com
WORK_NAME=restore-drill source benchmarks/lib/fresh-system.sh
dotnet build MindJourney.Api -c Release -v q -nologo >/dev/null
dotnet build MindJourney.StorageEmulator -c Release -v q -nologo >/dev/null
dotnet build MindJourney.LoadTests -c Release -v q -nologo >/dev/null
HARNESS=(dotnet MindJourney.LoadTests/bin/Release/net10.0/MindJourney.LoadTests.dll)
export API_DLL=MindJourney.Api/bin/Release/net10.0/MindJourney.Api.dll
API_ENV=(STORAGE_EMULATOR_HOST="127.0.0.1:$STPORT" FIREBASE_STORAGE_BUCKET="$BUCKET"
  MindJourney__RateLimit__SessionsPerWindow=0 MindJourney__RateLimit__ResponsesPerWindow=0
  MindJourney__RateLimit__ReadsPerWindow=0 MindJourney__RateLimit__SessionUpdatesPerWindow=0
  MindJourney__Storage__MaxUploadsInFlightPerClient=0 MindJourney__Storage__UploadBytesPerClientPerHour=0)
PILOTS_PID=
trap '[ -n "$PILOTS_PID" ] && kill "$PILOTS_PID" 2>/dev/null; cleanup' EXIT

# Pilots, one a second, each line "pilot <session id> <pilot number>" in $1, until killed.
pilots() {
  local api="http://127.0.0.1:$APIPORT/api" study token
  read -r study token < <(curl -sf -H "X-Admin-Key: $KEY" "$api/admin/experiments" | python3 -c '
import json, sys, urllib.parse
s = json.load(sys.stdin); s = s.get("items", s) if isinstance(s, dict) else s
print(s[0]["id"], urllib.parse.parse_qs(urllib.parse.urlparse(s[0]["pilotUrl"]).query)["pilot"][0])')
  while :; do
    curl -sf "$api/session" -H 'content-type: application/json' \
      -d "{\"experimentId\":\"$study\",\"mode\":\"pilot\",\"pilotToken\":\"$token\"}" |
      python3 -c 'import json, sys; s = json.load(sys.stdin); print("pilot", s["id"], s["visitorNumber"])' >>"$1" || true
    sleep 1
  done
}

load() { # $1 seconds, $2 ledger
  "${HARNESS[@]}" --api-url "http://127.0.0.1:$APIPORT/api" --users 8 --duration "$1s" --scenario journey --quiet \
    --report-dir "$WORK/report-$1" --ledger "$2" >"$WORK/harness-$1.log" 2>&1 || true
}

echo "== 1. load on the first server, pg_dump at 10 s =="
start_postgres
launch_storage_emulator
start_api "${API_ENV[@]}"
pilots "$WORK/pilots-before.txt" & PILOTS_PID=$!
load 24 "$WORK/before.jsonl" & LOAD=$!
sleep 10
DUMP_AT=$(date +%s%3N)
pg_dump -Fc -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney -f "$WORK/backup.dump"
echo "pg_dump took $(( $(date +%s%3N) - DUMP_AT )) ms ($(du -h "$WORK/backup.dump" | cut -f1))"
wait "$LOAD"; kill "$PILOTS_PID"; PILOTS_PID=

echo "== 2. the disaster: API stopped, the first server killed =="
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true; API_PID=
kill -9 "$PG_PID" $(pgrep -P "$PG_PID") 2>/dev/null || true; wait "$PG_PID" 2>/dev/null || true

echo "== 3. restored to a new server; DEPLOY.md section 8 =="
PGPORT=$(free_port); PSQL=(psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres)
mv "$WORK/data" "$WORK/data-lost"
start_postgres
pg_restore -h 127.0.0.1 -p "$PGPORT" -U postgres -d mindjourney "$WORK/backup.dump"
# DEPLOY.md: the highest visitorNumber any object in the bucket carries (the JSON API's object list with metadata).
HIGHEST=$(python3 - "http://127.0.0.1:$STPORT/storage/v1/b/$BUCKET/o" <<'EOF'
import json, sys, urllib.parse, urllib.request
url, token, highest = sys.argv[1], "", 0
while True:
    query = {"prefix": "experiment-responses/", "fields": "items(metadata/visitorNumber),nextPageToken"}
    if token: query["pageToken"] = token
    page = json.load(urllib.request.urlopen(url + "?" + urllib.parse.urlencode(query)))
    for item in page.get("items", []):
        number = (item.get("metadata") or {}).get("visitorNumber") or ""
        if number.isdigit(): highest = max(highest, int(number))
    token = page.get("nextPageToken")
    if not token: break
print(highest)
EOF
)
echo "highest visitorNumber in the bucket: $HIGHEST; margin $MARGIN"
"${PSQL[@]}" -d mindjourney -At -c "
  SELECT 'restored live sequence ' || last_value FROM visitor_counter_sequence;
  SELECT 'restored pilot sequence ' || last_value FROM pilot_counter_sequence;
  SELECT setval('visitor_counter_sequence', greatest((SELECT last_value FROM visitor_counter_sequence), $HIGHEST + $MARGIN));
  SELECT setval('pilot_counter_sequence', greatest((SELECT last_value FROM pilot_counter_sequence), $HIGHEST + $MARGIN));"

echo "== 4. the API on the restored server, load resumed =="
start_api "${API_ENV[@]}"
pilots "$WORK/pilots-after.txt" & PILOTS_PID=$!
load 10 "$WORK/after.jsonl"
kill "$PILOTS_PID"; PILOTS_PID=

echo "== 5. checks =="
DB="Host=127.0.0.1;Port=$PGPORT;Username=postgres;Database=mindjourney"
"${PSQL[@]}" -d mindjourney -At -F ' ' -c "SELECT id FROM experiment_sessions" >"$WORK/restored-sessions.txt"
RC=0
python3 - "$WORK" "http://127.0.0.1:$STPORT/storage/v1/b/$BUCKET/o" <<'EOF' || RC=1
import json, sys, urllib.parse, urllib.request
work, url = sys.argv[1], sys.argv[2]
def sessions(ledger, pilots):
    out = []
    for line in open(f"{work}/{ledger}"):
        try: e = json.loads(line)
        except ValueError: continue
        if e.get("kind") == "session" and e.get("visitorNumber") is not None:
            out.append((e.get("mode") or "live", e["visitorNumber"], e["id"], e["at"]))
    try:
        for line in open(f"{work}/{pilots}"):
            _, sid, number = line.split()
            if number != "None": out.append(("pilot", int(number), sid, 0))
    except FileNotFoundError: pass
    return out
before, after = sessions("before.jsonl", "pilots-before.txt"), sessions("after.jsonl", "pilots-after.txt")
restored = set(open(f"{work}/restored-sessions.txt").read().split())
lost = [s for s in before if s[2] not in restored]
objects, token = {}, ""
while True:
    query = {"prefix": "experiment-responses/"}
    if token: query["pageToken"] = token
    page = json.load(urllib.request.urlopen(url + "?" + urllib.parse.urlencode(query)))
    for item in page.get("items", []):
        m = item.get("metadata") or {}
        objects.setdefault(m.get("sessionId"), m.get("visitorNumber"))
    token = page.get("nextPageToken")
    if not token: break
named = [s for s in lost if s[2] in objects]
taken = {(m, n) for m, n, _, _ in before}
collisions = [s for s in after if (s[0], s[1]) in taken]
for mode in ("live", "pilot"):
    b = sorted(n for m, n, _, _ in before if m == mode); a = sorted(n for m, n, _, _ in after if m == mode)
    print(f"{mode}: {len(b)} numbers handed out before the restore (up to {b[-1] if b else '-'}), "
          f"{len(a)} after ({a[0] if a else '-'} to {a[-1] if a else '-'})")
print(f"acknowledged after the backup and lost by the restore: {len(lost)} sessions "
      f"({sum(1 for s in lost if s[0] == 'live')} live, {sum(1 for s in lost if s[0] == 'pilot')} pilot); "
      f"{len(named)} of them named by an object in the bucket (sessionId, visitorNumber metadata), "
      f"{len(lost) - len(named)} answered nothing before the disaster (covered by the margin only)")
print(f"collisions (a number handed out after the restore that was handed out before): {len(collisions)}")
sys.exit(1 if collisions else 0)
EOF
"${HARNESS[@]}" verify-ledger --ledger "$WORK/after.jsonl" --database "$DB" --storage-emulator "127.0.0.1:$STPORT" \
  --bucket "$BUCKET" --label "after the restore" || RC=1
echo "the ledger of before the restore against the restored server (its lost sessions and answers are the restore's):"
"${HARNESS[@]}" verify-ledger --ledger "$WORK/before.jsonl" --database "$DB" --label "before the restore" | head -2 || true
echo "restore drill: $([ "$RC" = 0 ] && echo passed || echo FAILED)"
exit "$RC"
