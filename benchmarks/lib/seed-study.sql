-- A study of :users visitors (psql -v users=N), each with one completed session and two text answers, as the
-- 1M benchmarks use it. Every 10,000th number is burned (a gap); every 50,000th visitor fell back (no number yet).
INSERT INTO users (id, is_anonymous, visitor_number, created_at, updated_at)
SELECT gen_random_uuid(), true, CASE WHEN i % 50000 = 0 THEN NULL ELSE i + i / 10000 END, now(), now()
FROM generate_series(1, :users) AS i;
INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, current_level, is_completed, created_at, updated_at)
SELECT gen_random_uuid(), id, '6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001', visitor_number, 4, true, created_at, now() FROM users;
INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type, response_data, created_at)
SELECT gen_random_uuid(), s.id, s.user_id, s.visitor_number, l::text, 'q' || l, 'text', '{"text":"an answer"}', now()
FROM experiment_sessions s CROSS JOIN generate_series(1, 2) AS l;
SELECT setval('visitor_counter_sequence', (SELECT max(visitor_number) FROM users));
VACUUM ANALYZE;
