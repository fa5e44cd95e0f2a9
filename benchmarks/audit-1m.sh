#!/usr/bin/env bash
# Benchmark: GET /api/admin/visitor-numbers/audit on a study of N users (default 1,000,000), each with one
# session and two responses, with a few burned numbers and unnumbered sessions so the audit has work to report.
# Starts its own PostgreSQL (default durability) and API on free loopback ports, stops both by PID at the end.
#   usage: benchmarks/audit-1m.sh [users] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-1000000}
RUNS=${2:-5}
WORK_NAME=audit-bench source benchmarks/lib/fresh-system.sh
start_postgres
start_api

seed_study "$USERS"

for run in $(seq 1 "$RUNS"); do
  curl -s -o "$WORK/audit.json" -w "audit run $run: %{time_total} s (HTTP %{http_code})\n" \
    -H "X-Admin-Key: $KEY" "http://127.0.0.1:$APIPORT/api/admin/visitor-numbers/audit"
done
python3 - "$WORK/audit.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
print({k: (len(v) if isinstance(v, list) else v) for k, v in a.items()})
PY
