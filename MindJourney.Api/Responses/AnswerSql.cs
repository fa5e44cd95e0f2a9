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
    /// <item><c>existing</c>: an answer whose Idempotency-Key its session already holds is a replay (or a reused
    /// key: the caller compares the fingerprint); it inserts nothing and is not counted. Found through the key's
    /// index alone (<see cref="FindByKey"/> says why).</item>
    /// <item><c>allowed</c>: the others, within the session's quotas (answers and bytes, its text included), of a person
    /// who has not withdrawn (read after the lock, so a withdrawal that committed before it is seen).</item>
    /// <item><c>inserted</c>: the answers, with their session's user and visitor number; a text answer's object
    /// name taken in the same millisecond (ON CONFLICT) comes back without a row and is sent again under the next.</item>
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
        session AS (
            SELECT s.id, s.user_id, s.visitor_number, s.response_count, s.stored_bytes, u.withdrawn_at IS NOT NULL AS withdrawn
            FROM experiment_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id IN (SELECT session_id FROM request)
        ),
        existing AS (
            SELECT r.{{AnswerStatement.Position}}, x.id, x.user_id, x.visitor_number, x.level_id, x.question_id,
                   x.response_type, x.response_data, x.file_id, x.file_url, x.created_at, x.storage_status,
                   x.idempotency_fingerprint
            FROM request r JOIN experiment_responses x
                ON x.idempotency_key = r.idempotency_key AND x.session_id IS NOT DISTINCT FROM r.session_id -- as FindByKey
            WHERE x.idempotency_key IS NOT NULL -- the key's partial index
        ),
        allowed AS (
            SELECT r.*, s.user_id, s.visitor_number FROM request r JOIN session s ON s.id = r.session_id
            WHERE NOT EXISTS (SELECT 1 FROM existing x WHERE x.{{AnswerStatement.Position}} = r.{{AnswerStatement.Position}})
              AND NOT s.withdrawn
              AND s.response_count < $15 AND s.stored_bytes + r.data_bytes + coalesce(r.text_bytes, 0) <= $16
        ),
        inserted AS (
            INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type,
                                              response_data, response_data_bytes, file_id, file_url, file_size_bytes, file_md5,
                                              storage_status, idempotency_key, idempotency_fingerprint, created_at)
            SELECT id, session_id, user_id, visitor_number, level_id, question_id, response_type, response_data, data_bytes,
                   object_name, file_url, text_bytes, text_md5, CASE WHEN object_name IS NOT NULL THEN 'pending' END,
                   idempotency_key, fingerprint, now()
            FROM allowed
            ON CONFLICT DO NOTHING
            RETURNING id, created_at
        ),
        bumped AS (
            UPDATE experiment_sessions s
            SET response_count = s.response_count + 1, stored_bytes = s.stored_bytes + a.data_bytes + coalesce(a.text_bytes, 0)
            FROM allowed a JOIN inserted i ON i.id = a.id
            WHERE s.id = a.session_id
        ),
        delivered AS (
            INSERT INTO storage_deliveries (response_id, object_name, content_type, size_bytes, md5_hash, original_name,
                                            uploaded_at, attempts, next_attempt_at, created_at, from_answer_text)
            SELECT a.id, a.object_name, $17, a.text_bytes, a.text_md5, $18, a.uploaded_at, 0, now(), now(), TRUE
            FROM allowed a JOIN inserted i ON i.id = a.id
            WHERE a.object_name IS NOT NULL
        )
        SELECT r.{{AnswerStatement.Position}}, s.id IS NOT NULL AS session_found, s.response_count, s.stored_bytes,
               a.id IS NOT NULL AS allowed, i.created_at AS inserted_at, a.user_id AS inserted_user_id,
               a.visitor_number AS inserted_visitor_number,
               x.id, x.user_id, x.visitor_number, x.level_id, x.question_id, x.response_type, x.response_data::text,
               x.file_id, x.file_url, x.created_at, x.storage_status, x.idempotency_fingerprint, s.withdrawn
        FROM request r
        LEFT JOIN session s ON s.id = r.session_id
        LEFT JOIN allowed a ON a.{{AnswerStatement.Position}} = r.{{AnswerStatement.Position}}
        LEFT JOIN inserted i ON i.id = r.id
        LEFT JOIN existing x ON x.{{AnswerStatement.Position}} = r.{{AnswerStatement.Position}}
        """;
}
