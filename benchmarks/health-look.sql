-- The numbering health check's look at the newest numbers (MindJourney.Api/Admin/NumberingHealthCheck.cs, LookSql),
-- with psql variables :lowest and :pending_age; a test keeps the two equal.
SELECT stray.id, stray.visitor_number,
       EXISTS (SELECT 1 FROM users WHERE mode = 'live' AND visitor_number = stray.visitor_number AND id <> stray.user_id),
       (SELECT r.id FROM experiment_sessions s JOIN experiment_responses r ON r.session_id = s.id
        WHERE s.visitor_number >= :lowest AND s.mode = 'live' AND r.visitor_number IS DISTINCT FROM s.visitor_number
        LIMIT 1),
       (SELECT min(created_at) FROM storage_deliveries WHERE created_at < now() - :'pending_age'::interval)
FROM (SELECT 1) one
LEFT JOIN LATERAL (
    (SELECT s.id, s.visitor_number, s.user_id
     FROM experiment_sessions s LEFT JOIN users u ON u.id = s.user_id
     WHERE s.visitor_number >= :lowest AND s.mode = 'live' AND s.visitor_number IS DISTINCT FROM u.visitor_number
     LIMIT 1)
    UNION ALL
    (SELECT s.id, s.visitor_number, s.user_id
     FROM users u JOIN experiment_sessions s ON s.user_id = u.id
     WHERE u.mode = 'live' AND u.visitor_number >= :lowest AND s.visitor_number IS DISTINCT FROM u.visitor_number
     LIMIT 1)
    LIMIT 1
) stray ON true;
