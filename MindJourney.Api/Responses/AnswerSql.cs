namespace MindJourney.Api.Responses;

/// <summary>
/// The SQL that records answers without a file, many in ONE statement (one round trip, one commit), for
/// <see cref="AnswerBatcher"/>; a lone answer, or one whose batch PostgreSQL refused, goes through the same statement
/// with one element per array. Each answer's session appears at most once per statement, so the session row's counters
/// (the quotas) are checked and bumped exactly once per answer. Its parameters are those of <see cref="AnswerStatement"/>.
/// </summary>
internal static class AnswerSql
{
    /// <summary>Runs first, in the same batch: the sessions' rows locked in one fixed order, so two statements never
    /// deadlock and each sees, in its own fresh snapshot (READ COMMITTED), every answer committed before it got the
    /// locks, an Idempotency-Key's first answer included.</summary>
    public const string LockSessions = "SELECT 1 FROM experiment_sessions WHERE id = ANY($1) ORDER BY id FOR UPDATE";

    /// <summary>The columns of an answer already stored under an Idempotency-Key, in this order (also what
    /// <see cref="FindByKey"/> answers).</summary>
    public const string StoredColumns = """
        id, user_id, visitor_number, level_id, question_id, response_type, response_data::text, file_id, file_url,
        created_at, storage_status, idempotency_fingerprint
        """;

    /// <summary>The answer stored in a session under an Idempotency-Key's HMAC, if any. The session is matched with
    /// IS NOT DISTINCT FROM, which no index serves, so the key's own index (led by the key) is the one way to the row:
    /// with <c>=</c>, a plan made while sessions held few answers could read every answer of the session instead
    /// (the index on session and time), a cost that grows with each answer it holds.</summary>
    public const string FindByKey =
        $"SELECT {StoredColumns} FROM experiment_responses WHERE idempotency_key = $2 AND session_id IS NOT DISTINCT FROM $1";

    /// <summary>
    /// The work, its steps in the order they run:
    /// <list type="bullet">
    /// <item><c>checked</c>: each answer beside its session (read after the lock, so a withdrawal or an answer
    /// committed before it is seen) and the answer its session already holds under its Idempotency-Key, if any: a
    /// replay (or a reused key: the caller compares the fingerprint), which inserts nothing and is not counted. Found
    /// through the key's index alone (<see cref="FindByKey"/> says why). One pass of index probes: every later step
    /// reads these rows, none looks a row up again.</item>
    /// <item><c>inserted</c>: the answers within their session's quotas (answers and bytes, its text included), of a
    /// person who has not withdrawn, with their session's user and visitor number; a text answer's object name
    /// taken in the same millisecond (ON CONFLICT) comes back without a row and is sent again under the next.</item>
    /// <item><c>bumped</c>: the counters of the sessions whose answer was inserted.</item>
    /// <item><c>delivered</c>: a text answer's delivery, whose content is the answer's own text: the worker writes
    /// the object, no copy of its bytes is kept.</item>
    /// <item>The answer: one row per request with its position, what was inserted or found, and what the session
    /// held before (why a refusal).</item>
    /// </list>
    /// </summary>
    public const string RecordAnswers = $$"""
        WITH request AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[],
                                 $8::text[], $9::bytea[], $10::text[], $11::bigint[], $12::text[], $13::timestamptz[], $14::text[])
                WITH ORDINALITY AS r(id, session_id, level_id, question_id, response_type, response_data, data_bytes,
                                     idempotency_key, fingerprint, object_name, text_bytes, text_md5, uploaded_at, file_url,
                                     {{AnswerStatement.Position}})
        ),
        checked AS (
            SELECT r.*, s.id IS NOT NULL AS session_found, s.user_id, s.visitor_number, s.response_count, s.stored_bytes,
                   u.withdrawn_at IS NOT NULL AS withdrawn,
                   s.id IS NOT NULL AND x.id IS NULL AND u.withdrawn_at IS NULL AND s.response_count < $15
                       AND s.stored_bytes + r.data_bytes + coalesce(r.text_bytes, 0) <= $16 AS allowed,
                   x.id AS x_id, x.user_id AS x_user_id, x.visitor_number AS x_visitor_number, x.level_id AS x_level_id,
                   x.question_id AS x_question_id, x.response_type AS x_response_type, x.response_data AS x_response_data,
                   x.file_id AS x_file_id, x.file_url AS x_file_url, x.created_at AS x_created_at,
                   x.storage_status AS x_storage_status, x.idempotency_fingerprint AS x_fingerprint
            FROM request r
            LEFT JOIN experiment_sessions s ON s.id = r.session_id
            LEFT JOIN users u ON u.id = s.user_id
            LEFT JOIN experiment_responses x -- as FindByKey; IS NOT NULL: the key's partial index
                ON x.idempotency_key = r.idempotency_key AND x.session_id IS NOT DISTINCT FROM r.session_id
                   AND x.idempotency_key IS NOT NULL
        ),
        inserted AS (
            INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type,
                                              response_data, response_data_bytes, file_id, file_url, file_size_bytes, file_md5,
                                              storage_status, idempotency_key, idempotency_fingerprint, created_at)
            SELECT id, session_id, user_id, visitor_number, level_id, question_id, response_type, response_data, data_bytes,
                   object_name, file_url, text_bytes, text_md5, CASE WHEN object_name IS NOT NULL THEN 'pending' END,
                   idempotency_key, fingerprint, now()
            FROM checked
            WHERE allowed
            ON CONFLICT DO NOTHING
            RETURNING id, session_id, response_data_bytes + coalesce(file_size_bytes, 0) AS counted_bytes, file_id, created_at
        ),
        bumped AS (
            UPDATE experiment_sessions s
            SET response_count = s.response_count + 1, stored_bytes = s.stored_bytes + i.counted_bytes
            FROM inserted i
            WHERE s.id = i.session_id
        ),
        delivered AS (
            INSERT INTO storage_deliveries (response_id, object_name, content_type, size_bytes, md5_hash, original_name,
                                            uploaded_at, attempts, next_attempt_at, created_at, from_answer_text)
            SELECT c.id, c.object_name, $17, c.text_bytes, c.text_md5, $18, c.uploaded_at, 0, now(), now(), TRUE
            FROM inserted i JOIN checked c ON c.id = i.id
            WHERE i.file_id IS NOT NULL
        )
        SELECT c.{{AnswerStatement.Position}}, c.session_found, c.response_count, c.stored_bytes, c.allowed,
               i.created_at AS inserted_at, c.user_id AS inserted_user_id, c.visitor_number AS inserted_visitor_number,
               c.x_id, c.x_user_id, c.x_visitor_number, c.x_level_id, c.x_question_id, c.x_response_type,
               c.x_response_data::text, c.x_file_id, c.x_file_url, c.x_created_at, c.x_storage_status, c.x_fingerprint,
               c.withdrawn
        FROM checked c
        LEFT JOIN inserted i ON i.id = c.id
        """;
}
