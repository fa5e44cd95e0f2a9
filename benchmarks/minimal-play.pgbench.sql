-- The minimal durable work of a Play: one number from visitor_counter_sequence, the user holding it and a session
-- copying it, in one statement (one round trip, one commit). What any numbering design must at least pay per
-- visitor; benchmarks/batch-vs-pgbench.sh sets the API against it.
WITH visitor AS (
    INSERT INTO users (id, is_anonymous, mode, visitor_number, created_at, updated_at)
    VALUES (gen_random_uuid(), TRUE, 'live', nextval('visitor_counter_sequence'), now(), now())
    RETURNING id, visitor_number
)
INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, mode, current_level, is_completed,
                                 secret_hashes, created_at, updated_at)
SELECT gen_random_uuid(), v.id, '6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001', v.visitor_number, 'live', 1, FALSE,
       ARRAY[sha256(gen_random_uuid()::text::bytea)], now(), now()
FROM visitor v;
