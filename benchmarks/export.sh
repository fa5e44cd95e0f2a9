#!/usr/bin/env bash
# Benchmark: GET /api/admin/export as CSV over SESSIONS sessions with 5 responses each (default 100,000 and 500,000),
# then as a zip of ZIP_MB of files (default 2048 MB, in FILE_MB objects) held by our storage emulator.
# Starts its own PostgreSQL, storage emulator and API (Release) on free loopback ports and stops them by PID at the
# end. Reports time, throughput and the API's peak resident memory (VmHWM, reset before each export).
#   usage: benchmarks/export.sh [sessions] [zip_mb] [file_mb]
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-100000}
ZIP_MB=${2:-2048}
FILE_MB=${3:-4}
FILES=$(( (ZIP_MB + FILE_MB - 1) / FILE_MB ))
BUCKET=mindjourney-bench.appspot.com
EXPERIMENT=6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001
WORK_NAME=export-bench source benchmarks/lib/fresh-system.sh
start_postgres
start_storage_emulator
start_api STORAGE_EMULATOR_HOST="127.0.0.1:$STPORT" FIREBASE_STORAGE_BUCKET="$BUCKET"

# Eight distinct random files, each object one of them (the zip stores them as they are: no compression to gain).
MD5S=()
for i in $(seq 0 7); do
  head -c $((FILE_MB * 1048576)) /dev/urandom >"$WORK/blob-$i"
  MD5S+=("$(openssl dgst -md5 -binary "$WORK/blob-$i" | base64)")
done

echo "Seeding $SESSIONS sessions with $((5 * SESSIONS)) responses, and $FILES sessions with one ${FILE_MB} MiB video each..."
SEED_START=$(date +%s)
"${PSQL[@]}" -d mindjourney -v sessions="$SESSIONS" -v files="$FILES" -v experiment="$EXPERIMENT" -v size=$((FILE_MB * 1048576)) \
  -v md5s="{$(IFS=,; echo "${MD5S[*]}")}" <<'SQL'
INSERT INTO users (id, is_anonymous, visitor_number, created_at, updated_at)
SELECT gen_random_uuid(), true, i, now() - make_interval(secs => :sessions + :files - i), now()
FROM generate_series(1, :sessions + :files) AS i;
INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, condition, current_level, is_completed, created_at, updated_at)
SELECT gen_random_uuid(), id, :'experiment', visitor_number, CASE visitor_number % 2 WHEN 1 THEN 'control' ELSE 'treatment' END,
       4, true, created_at, now()
FROM users;
-- Five text answers per session, stored as files as the API stores them (object_visitor_number set: nothing to patch).
INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type, response_data,
                                  file_id, file_url, file_size_bytes, file_md5, storage_status, object_visitor_number, created_at)
SELECT r.id, s.id, s.user_id, s.visitor_number, l::text, 'q' || l, 'text', jsonb_build_object('text', r.t),
       'experiment-responses/2026-12-02/session-' || s.id || '/text/' || (1764640000000 + l) || '_text-response.txt',
       '/api/download/' || r.id, octet_length(r.t), encode(decode(md5(r.t), 'hex'), 'base64'), 'stored', s.visitor_number,
       s.created_at + make_interval(secs => l)
FROM experiment_sessions s CROSS JOIN generate_series(1, 5) AS l
CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id,
                           'Answer ' || l || ' of visitor ' || s.visitor_number || ', with a comma and "quotes"' AS t) r
WHERE s.visitor_number <= :sessions;
-- One video per file session, pointing at an object seeded below.
INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type, response_data,
                                  file_id, file_url, file_size_bytes, file_md5, storage_status, object_visitor_number, created_at)
SELECT s.rid, s.id, s.user_id, s.visitor_number, '3', 'q4', 'video', '{"durationMs":1500}',
       'experiment-responses/2026-12-02/session-' || s.id || '/video/1764640000000_clip.webm', '/api/download/' || s.rid,
       :size, (:'md5s'::text[])[1 + s.visitor_number % 8], 'stored', s.visitor_number, s.created_at
FROM (SELECT *, gen_random_uuid() AS rid FROM experiment_sessions WHERE visitor_number > :sessions) s;
SELECT setval('visitor_counter_sequence', :sessions + :files);
VACUUM ANALYZE;
SQL
"${PSQL[@]}" -d mindjourney -At -v sessions="$SESSIONS" \
  -c "SELECT visitor_number % 8, file_id FROM experiment_responses WHERE visitor_number > $SESSIONS ORDER BY visitor_number" \
  >"$WORK/objects"
# Straight into the emulator over its media upload (it computes and keeps MD5 and CRC32C as storage would), two at a time.
while IFS='|' read -r blob name; do
  echo "$blob $(printf %s "$name" | sed 's#/#%2F#g')"
done <"$WORK/objects" | xargs -r -P 2 -n 2 sh -c 'curl -sf -o /dev/null -H "content-type: video/webm" --data-binary "@$0/blob-$1" \
  "http://127.0.0.1:'"$STPORT"'/upload/storage/v1/b/'"$BUCKET"'/o?uploadType=media&name=$2"' "$WORK"
echo "Seeded in $(( $(date +%s) - SEED_START )) s ($(du -sm "$WORK/storage" | cut -f1) MB in storage)"

peak() { grep -E 'VmHWM' /proc/"$API_PID"/status | awk '{ printf "%.0f MB", $2 / 1024 }'; }
rss() { grep -E 'VmRSS' /proc/"$API_PID"/status | awk '{ printf "%.0f MB", $2 / 1024 }'; }
export_run() { # name query output
  echo 5 >/proc/"$API_PID"/clear_refs # resets VmHWM to the current RSS
  echo "$1: API resident before $(rss)"
  curl -s --max-time 3600 -o "$3" -w '%{http_code} %{time_total} %{size_download}\n' -H "X-Admin-Key: $KEY" \
    "http://127.0.0.1:$APIPORT/api/admin/export?$2" >"$WORK/timing"
  read -r code seconds bytes <"$WORK/timing"
  awk -v n="$1" -v c="$code" -v t="$seconds" -v b="$bytes" -v p="$(peak)" \
    'BEGIN { printf "%s: HTTP %s, %.1f MB in %.2f s = %.1f MB/s; API peak resident %s\n", n, c, b / 1e6, t, b / 1e6 / t, p }'
}

export_run "CSV of all" "format=csv" "$WORK/export.csv"
ROWS=$(( $(wc -l <"$WORK/export.csv") - 1 ))
awk -v r="$ROWS" -v t="$(cut -d' ' -f2 "$WORK/timing")" 'BEGIN { printf "CSV: %d rows, %.0f rows/s\n", r, r / t }'
rm -f "$WORK/export.csv"
export_run "zip of the file sessions" "format=zip&from=$((SESSIONS + 1))" "$WORK/export.zip"
"${PSQL[@]}" -d mindjourney -At -c "SELECT details FROM admin_actions ORDER BY at"

echo "Checking the zip: entries and the manifest's checksums..."
unzip -tq "$WORK/export.zip"
python3 - "$WORK/export.zip" <<'PY'
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
m = json.loads(z.read("manifest.json"))
for f in m["files"]:
    h = hashlib.sha256()
    with z.open(f["path"]) as e:
        for block in iter(lambda: e.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == f["sha256"], f["path"]
print(f"manifest: {len(m['files'])} entries verified, {len(m['missing'])} missing, {sum(f['size'] for f in m['files']) / 1e6:.0f} MB")
PY
