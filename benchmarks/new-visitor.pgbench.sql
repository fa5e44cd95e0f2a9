-- The statement POST /api/session runs for a new visitor without an Idempotency-Key
-- (MindJourney.Api/Sessions/VisitorNumberSql.cs, NewVisitor), parameters filled in; a test keeps the two equal.
\set level 1
WITH existing AS (
    SELECT s.id, s.user_id, s.experiment_id, s.visitor_number, s.current_level, s.branching_path,
           s.is_completed, s.created_at, s.updated_at, e.total_levels,
           COALESCE(s.idempotency_fingerprint = NULL::bytea, FALSE) AS same_request
    FROM experiment_sessions s JOIN experiments e ON e.id = s.experiment_id
    WHERE NULL::text::text IS NOT NULL AND s.idempotency_key = NULL::text
),
replayed AS (
    UPDATE experiment_sessions s
    SET secret_hashes = (s.secret_hashes || sha256(gen_random_uuid()::text::bytea)::bytea)[greatest(1, cardinality(s.secret_hashes) - 6):]
    FROM existing x
    WHERE s.id = x.id AND x.same_request
),
experiment AS (
    SELECT id, total_levels FROM experiments
    WHERE id = '6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001'::uuid AND is_active AND :level BETWEEN 1 AND total_levels
      AND NOT EXISTS (SELECT 1 FROM existing)
),
visitor AS (
    INSERT INTO users (id, is_anonymous, visitor_number, created_at, updated_at)
    SELECT gen_random_uuid(), TRUE, nextval('visitor_counter_sequence'), now(), now() FROM experiment
    RETURNING id, visitor_number, TRUE AS newly_assigned
),
created AS (
    INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, current_level, branching_path,
                                     is_completed, session_data, idempotency_key, idempotency_fingerprint,
                                     secret_hashes, created_at, updated_at)
    SELECT gen_random_uuid(), v.id, e.id, v.visitor_number, :level, NULL::text, FALSE, NULL::jsonb, NULL::text, NULL::bytea, ARRAY[sha256(gen_random_uuid()::text::bytea)::bytea], now(), now()
    FROM visitor v CROSS JOIN experiment e
    RETURNING id, user_id, experiment_id, visitor_number, current_level, branching_path, is_completed,
              created_at, updated_at
)
SELECT c.id, c.user_id, c.experiment_id, c.visitor_number, c.current_level, c.branching_path, c.is_completed,
       c.created_at, c.updated_at, e.total_levels, v.newly_assigned, FALSE AS replayed, TRUE AS same_request
FROM created c CROSS JOIN experiment e CROSS JOIN visitor v
UNION ALL
SELECT x.id, x.user_id, x.experiment_id, x.visitor_number, x.current_level, x.branching_path, x.is_completed,
       x.created_at, x.updated_at, x.total_levels, FALSE, TRUE, x.same_request
FROM existing x;
