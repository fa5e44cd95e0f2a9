-- The minimal durable work of an answer: one statement that checks and bumps its session's answer count (and bytes)
-- against the quota and inserts the answer with its session's user and visitor number (one round trip, one commit),
-- over sessions made beforehand whose visitor numbers are 1 to :sessions (pgbench -D sessions=256). What any
-- recording design must at least pay per answer; benchmarks/answers-vs-pgbench.sh sets the API against it.
\set n random(1, :sessions)
WITH session AS (
    UPDATE experiment_sessions
    SET response_count = response_count + 1, stored_bytes = stored_bytes + 50
    WHERE visitor_number = :n AND mode = 'live' AND response_count < 1000000 AND stored_bytes + 50 <= 1073741824
    RETURNING id, user_id, visitor_number
)
INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type,
                                  response_data, response_data_bytes, created_at)
SELECT gen_random_uuid(), s.id, s.user_id, s.visitor_number, '1', 'q1', 'text',
       '{"text":"I came to learn how I focus, and I did."}', 50, now()
FROM session s;
