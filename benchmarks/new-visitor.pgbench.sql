-- The statement POST /api/session runs for a new visitor without an Idempotency-Key
-- (MindJourney.Api/Sessions/VisitorNumberSql.cs, NewVisitor), parameters filled in; a test keeps the two equal.
-- (The API locks the study's row first, in the same round trip: VisitorNumberSql.LockStudy.)
\set level 1
    WITH existing AS (
        SELECT s.id, s.user_id, s.experiment_id, s.visitor_number, s.study_participant_number, s.current_level,
               s.branching_path,
               s.is_completed, s.created_at, s.updated_at, e.total_levels, FALSE AS newly_assigned, TRUE AS replayed,
               COALESCE(s.idempotency_fingerprint = NULL::bytea, FALSE) AS same_request,
               s.mode, s.condition, s.condition_order,
               COALESCE(s.idempotency_fingerprint = NULL::bytea AND cardinality(s.secret_hashes) <= 8, FALSE)
                   AS secret_issued
        FROM experiment_sessions s JOIN experiments e ON e.id = s.experiment_id
        WHERE NULL::text::text IS NOT NULL AND s.idempotency_key = NULL::text
    ),
    replayed AS (
        UPDATE experiment_sessions s
        SET secret_hashes = s.secret_hashes || sha256(gen_random_uuid()::text::bytea)::bytea
        FROM existing x
        WHERE s.id = x.id AND x.secret_issued
    ),
    experiment AS (
        SELECT id, total_levels, conditions, condition_scheme FROM experiments
        WHERE id = '6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001'::uuid AND :level BETWEEN 1 AND total_levels
          AND NOT EXISTS (SELECT 1 FROM existing)
    ),
    earlier AS (
    SELECT NULL::text AS condition, NULL::text[] AS condition_order, NULL::int AS study_participant_number WHERE FALSE
    ),
    claimed AS (
        UPDATE experiments e
        SET participants_numbered = e.participants_numbered + CASE WHEN 'live'::text = 'pilot' THEN 0 ELSE 1 END,
            pilots_numbered = e.pilots_numbered + CASE WHEN 'live'::text = 'pilot' THEN 1 ELSE 0 END
        FROM experiment x
        WHERE e.id = x.id AND NOT EXISTS (SELECT 1 FROM earlier) AND TRUE
          AND ((e.status = 'open'
                AND ('live'::text = 'pilot' OR e.max_participants IS NULL OR e.participants_numbered < e.max_participants))
               OR ('live'::text = 'pilot' AND e.status = 'draft'))
        RETURNING CASE WHEN 'live'::text = 'pilot' THEN e.pilots_numbered ELSE e.participants_numbered END AS study_participant_number
    ),
    admitted AS (
        SELECT study_participant_number FROM earlier
        UNION ALL
        SELECT study_participant_number FROM claimed
    ),
    visitor AS (
    
    INSERT INTO users (id, is_anonymous, mode, visitor_number, created_at, updated_at)
    SELECT gen_random_uuid(), TRUE, 'live'::text, CASE WHEN 'live'::text = 'pilot' THEN nextval('pilot_counter_sequence') ELSE nextval('visitor_counter_sequence') END, now(), now() FROM admitted
    RETURNING id, visitor_number, mode, TRUE AS newly_assigned
    
    ),
    assigned AS (
        SELECT v.id AS user_id, v.visitor_number, v.mode, v.study_participant_number, e.id AS experiment_id,
               e.condition_scheme, FALSE AS done, 
    CASE WHEN earlier.condition IS NOT NULL THEN earlier.condition
         WHEN v.visitor_number IS NULL OR v.study_participant_number IS NULL OR cardinality(e.conditions) = 0 THEN NULL
         WHEN e.condition_scheme = 'latin-square' THEN (latin_square_order(e.conditions, v.study_participant_number))[1]
         WHEN e.condition_scheme = 'least-filled' THEN (
             SELECT c.name FROM unnest(e.conditions) WITH ORDINALITY AS c(name, position)
             LEFT JOIN condition_tallies t ON t.experiment_id = e.id AND t.mode = v.mode AND t.condition = c.name
             ORDER BY COALESCE(t.completed, 0), COALESCE(t.started, 0), c.position
             LIMIT 1)
         ELSE e.conditions[1 + (v.study_participant_number - 1) % cardinality(e.conditions)]
    END AS condition,
    CASE WHEN earlier.condition IS NOT NULL THEN earlier.condition_order
         WHEN v.visitor_number IS NOT NULL AND v.study_participant_number IS NOT NULL AND e.condition_scheme = 'latin-square'
              AND cardinality(e.conditions) > 0
         THEN latin_square_order(e.conditions, v.study_participant_number)
    END AS condition_order
    
        FROM (SELECT p.*, a.study_participant_number FROM visitor p CROSS JOIN admitted a) v
        CROSS JOIN experiment e LEFT JOIN earlier ON TRUE
    ),
    tallied AS (
        
    INSERT INTO condition_tallies (experiment_id, mode, condition, started, completed)
    SELECT a.experiment_id, a.mode, a.condition, 1, CASE WHEN a.done THEN 1 ELSE 0 END
    FROM assigned a WHERE a.condition IS NOT NULL AND a.condition_scheme = 'least-filled'
    ON CONFLICT (experiment_id, mode, condition)
    DO UPDATE SET started = condition_tallies.started + 1, completed = condition_tallies.completed + excluded.completed
    
    ),
    created AS (
        INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, study_participant_number, mode,
                                         condition, condition_order, current_level, branching_path, is_completed,
                                         session_data, idempotency_key, idempotency_fingerprint, secret_hashes,
                                         created_at, updated_at)
        SELECT gen_random_uuid(), a.user_id, a.experiment_id, a.visitor_number, a.study_participant_number, a.mode, a.condition,
               a.condition_order, :level, NULL::text, FALSE, NULL::jsonb, NULL::text, NULL::bytea, ARRAY[sha256(gen_random_uuid()::text::bytea)::bytea], now(), now()
        FROM assigned a
        RETURNING id, user_id, experiment_id, visitor_number, study_participant_number, current_level, branching_path,
                  is_completed, created_at, updated_at, mode, condition, condition_order
    ),
    started AS (
        SELECT c.*, e.total_levels, v.newly_assigned, FALSE AS replayed, TRUE AS same_request, TRUE AS secret_issued
        FROM created c CROSS JOIN experiment e CROSS JOIN visitor v
    )
    SELECT 
    id, user_id, experiment_id, visitor_number, study_participant_number, current_level, branching_path, is_completed,
    created_at, updated_at, total_levels, newly_assigned, replayed, same_request, mode, condition, condition_order,
    secret_issued
     FROM started
    UNION ALL
    SELECT 
    id, user_id, experiment_id, visitor_number, study_participant_number, current_level, branching_path, is_completed,
    created_at, updated_at, total_levels, newly_assigned, replayed, same_request, mode, condition, condition_order,
    secret_issued
     FROM existing;
