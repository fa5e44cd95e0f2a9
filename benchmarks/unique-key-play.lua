-- wrk: POST /api/session for the seeded experiment, every request with its own Idempotency-Key (as the
-- participant page sends one per Play). Keys are unique across threads and runs, and at least 16 characters long
-- (the API refuses shorter ones).
local threads = 0
local run = tostring(os.time())

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local sent = 0
wrk.method = "POST"
wrk.body = '{"experimentId":"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001"}'
wrk.headers["Content-Type"] = "application/json"

function request()
  sent = sent + 1
  wrk.headers["Idempotency-Key"] = "wrk-play-" .. run .. "-" .. thread_id .. "-" .. sent
  return wrk.format()
end
