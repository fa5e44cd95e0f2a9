-- wrk: POST /api/response with a text answer as the participant page sends it ({sessionId, levelId, questionId,
-- responseType "text", responseData {text}}), each with its own Idempotency-Key (as the page's outbox sends one per
-- answer), for a session drawn at random from the file given after "--" (one session id a line).
-- ANSWER_TYPE=email in the environment sends the same answer as responseType "email", which has no storage object:
-- the answer's statement alone, without the text's object.
local threads = 0
local run = tostring(os.time())
local answer_type = os.getenv("ANSWER_TYPE") or "text"

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local sessions = {}
local sent = 0

function init(args)
  for line in io.lines(args[1]) do
    sessions[#sessions + 1] = line
  end
  math.randomseed(os.time() + thread_id)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  sent = sent + 1
  wrk.headers["Idempotency-Key"] = "wrk-answer-" .. run .. "-" .. thread_id .. "-" .. sent
  local body = '{"sessionId":"' .. sessions[math.random(#sessions)] ..
    '","levelId":"1","questionId":"q1","responseType":"' .. answer_type ..
    '","responseData":{"text":"I came to learn how I focus, and I did."}}'
  return wrk.format(nil, nil, nil, body)
end
