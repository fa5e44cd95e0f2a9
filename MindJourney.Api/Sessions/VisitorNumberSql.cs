using MindJourney.Api.Data;

namespace MindJourney.Api.Sessions;

/// <summary>
/// The SQL that creates a session together with its visitor number and condition, in ONE statement (one round trip):
/// the original platform ran nextval and then several separate updates, so a failure between them burned a number.
/// Each statement is a chain of named steps (CTEs), written in the order they run. Their parameters ($1 to $10) and
/// the row they answer with are those of <see cref="NumberingStatement"/>.
/// </summary>
internal static class VisitorNumberSql
{
    // A pilot draws from its own sequence, so it never moves the live one. CASE evaluates only the branch taken.
    private const string NextPilotNumber = $"nextval('{MindJourneyDbContext.PilotNumberSequence}')";
    private const string NextLiveNumber = $"nextval('{MindJourneyDbContext.VisitorNumberSequence}')";
    private const string NextNumber = $"CASE WHEN $10 = 'pilot' THEN {NextPilotNumber} ELSE {NextLiveNumber} END";

    /// <summary>
    /// The statement for one request, its steps in the order they run. Only <c>visitor</c> (the user row and its
    /// number), <c>earlier</c> (the study number and condition a returning person keeps) and who may claim a study
    /// number differ between the four statements.
    /// <list type="bullet">
    /// <item><c>existing</c>: a replay of an Idempotency-Key finds its session here; when it does, nothing below
    /// inserts anything and no sequence value is consumed. The caller serialises equal keys with an advisory lock
    /// (<see cref="LockKey"/>).</item>
    /// <item><c>replayed</c>: a replay of the same request (same fingerprint) gets one more session secret, so a
    /// response that was lost costs the client nothing: the first 8 replays do, later ones get the session without
    /// one. No secret is ever dropped (9 at most are kept), so replays never lock the first holder out. A key reused
    /// for another request gets nothing.</item>
    /// <item><c>claimed</c>: a person new to the study takes its next study participant number by bumping the
    /// study's count, only while the study admits them: open and below its cap for a live person, open or draft for a
    /// pilot. The caller has locked the study's row (<see cref="LockStudy"/>), so the count and cap read here are
    /// the committed ones and stay so until this commits: the cap can never be overshot, and the count rolls back
    /// with the statement, so study numbers have no gaps. <c>visitor</c> reads <c>admitted</c> (the earlier number
    /// or the one claimed): a person the study refuses gets no row there, so <c>nextval</c> is never evaluated
    /// for them and no visitor number is drawn.</item>
    /// <item><c>assigned</c> and <c>tallied</c>: the condition is chosen in the same statement as the number
    /// (<see cref="ConditionSql"/>), and a least-filled start is counted in its tally here too: a session never
    /// exists without the condition its number gave it.</item>
    /// <item>The answer: the new session, or the one replayed.</item>
    /// </list>
    /// </summary>
    private static string OneRequest(string visitor, string earlier, string person, string prelude = "", string beforeVisitor = "",
        string afterVisitor = "") => $$"""
        WITH {{prelude}}existing AS (
            SELECT s.id, s.user_id, s.experiment_id, s.visitor_number, s.study_participant_number, s.current_level,
                   s.branching_path,
                   s.is_completed, s.created_at, s.updated_at, e.total_levels, FALSE AS newly_assigned, TRUE AS replayed,
                   COALESCE(s.idempotency_fingerprint = $8, FALSE) AS same_request,
                   s.mode, s.condition, s.condition_order,
                   COALESCE(s.idempotency_fingerprint = $8 AND cardinality(s.secret_hashes) <= 8, FALSE)
                       AS secret_issued
            FROM experiment_sessions s JOIN experiments e ON e.id = s.experiment_id
            WHERE $7::text IS NOT NULL AND s.idempotency_key = $7
        ),
        replayed AS (
            UPDATE experiment_sessions s
            SET secret_hashes = s.secret_hashes || $9::bytea
            FROM existing x
            WHERE s.id = x.id AND x.secret_issued
        ),
        experiment AS (
            SELECT id, total_levels, conditions, condition_scheme FROM experiments
            WHERE id = $1 AND $2 BETWEEN 1 AND total_levels
              AND NOT EXISTS (SELECT 1 FROM existing)
        ),
        earlier AS (
        {{earlier}}
        ),
        claimed AS (
            UPDATE experiments e
            SET participants_numbered = e.participants_numbered + CASE WHEN $10 = 'pilot' THEN 0 ELSE 1 END,
                pilots_numbered = e.pilots_numbered + CASE WHEN $10 = 'pilot' THEN 1 ELSE 0 END
            FROM experiment x
            WHERE e.id = x.id AND NOT EXISTS (SELECT 1 FROM earlier) AND {{person}}
              AND ((e.status = '{{StudyStatuses.Open}}'
                    AND ($10 = 'pilot' OR e.max_participants IS NULL OR e.participants_numbered < e.max_participants))
                   OR ($10 = 'pilot' AND e.status = '{{StudyStatuses.Draft}}'))
            RETURNING CASE WHEN $10 = 'pilot' THEN e.pilots_numbered ELSE e.participants_numbered END AS study_participant_number
        ),
        admitted AS (
            SELECT study_participant_number FROM earlier
            UNION ALL
            SELECT study_participant_number FROM claimed
        ),
        {{beforeVisitor}}visitor AS (
        {{visitor}}
        ),
        {{afterVisitor}}assigned AS (
            SELECT v.id AS user_id, v.visitor_number, v.mode, v.study_participant_number, e.id AS experiment_id,
                   e.condition_scheme, FALSE AS done, {{ConditionSql.Columns}}
            FROM (SELECT p.*, a.study_participant_number FROM visitor p CROSS JOIN admitted a) v
            CROSS JOIN experiment e LEFT JOIN earlier ON TRUE
        ),
        tallied AS (
            {{ConditionSql.CountStart}}
        ),
        created AS (
            INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, study_participant_number, mode,
                                             condition, condition_order, current_level, branching_path, is_completed,
                                             session_data, idempotency_key, idempotency_fingerprint, secret_hashes,
                                             created_at, updated_at)
            SELECT $4, a.user_id, a.experiment_id, a.visitor_number, a.study_participant_number, a.mode, a.condition,
                   a.condition_order, $2, $5, FALSE, $6, $7, $8, ARRAY[$9::bytea], now(), now()
            FROM assigned a
            RETURNING id, user_id, experiment_id, visitor_number, study_participant_number, current_level, branching_path,
                      is_completed, created_at, updated_at, mode, condition, condition_order
        ),
        started AS (
            SELECT c.*, e.total_levels, v.newly_assigned, FALSE AS replayed, TRUE AS same_request, TRUE AS secret_issued
            FROM created c CROSS JOIN experiment e CROSS JOIN visitor v
        )
        SELECT {{NumberingStatement.RowColumns}} FROM started
        UNION ALL
        SELECT {{NumberingStatement.RowColumns}} FROM existing
        """;

    // A returning person keeps their number in this study and the condition of their first session in it that has
    // one (a fallback session has none until the recovery numbers it; every session of theirs has the number).
    private const string EarlierCondition = """
        SELECT s.condition, s.condition_order, s.study_participant_number FROM experiment_sessions s
        WHERE s.user_id = $3 AND s.experiment_id = $1 AND s.study_participant_number IS NOT NULL
        ORDER BY s.condition IS NULL, s.created_at LIMIT 1
        """;

    // A new visitor has no earlier session: nothing to read on the hot path.
    private const string NoEarlierCondition =
        "SELECT NULL::text AS condition, NULL::text[] AS condition_order, NULL::int AS study_participant_number WHERE FALSE";

    // Who may claim a number in the study: anyone new, or a returning person who exists in the mode sent (else the
    // statement creates nothing, and must not claim a number it would not use).
    private const string AnyNewPerson = "TRUE";
    private const string KnownPerson = "EXISTS (SELECT 1 FROM users u WHERE u.id = $3 AND u.mode = $10)";

    /// <summary>A new (anonymous) visitor: the user row takes the next number of its mode, the session copies it.</summary>
    public static readonly string NewVisitor = OneRequest(visitor: $$"""
        INSERT INTO users (id, is_anonymous, mode, visitor_number, created_at, updated_at)
        SELECT $3, TRUE, $10, {{NextNumber}}, now(), now() FROM admitted
        RETURNING id, visitor_number, mode, TRUE AS newly_assigned
        """, earlier: NoEarlierCondition, person: AnyNewPerson);

    /// <summary>A returning user keeps their number; one who never got one (an earlier fallback) gets the next.
    /// The row lock makes two simultaneous sessions of the same user agree on one number; COALESCE evaluates
    /// nextval only when the user has no number, so a returning visitor consumes no sequence value. A user of the
    /// other mode matches nothing (the caller tells why).</summary>
    public static readonly string ReturningUser = OneRequest(visitor: $$"""
        UPDATE users u
        SET visitor_number = COALESCE(u.visitor_number, {{NextNumber}}),
            updated_at = CASE WHEN u.visitor_number IS NULL THEN now() ELSE u.updated_at END
        FROM (SELECT id, visitor_number AS previous FROM users WHERE id = $3 FOR UPDATE) p
        WHERE u.id = p.id AND u.mode = $10 AND EXISTS (SELECT 1 FROM admitted)
        RETURNING u.id, u.visitor_number, u.mode, p.previous IS NULL AS newly_assigned
        """, earlier: EarlierCondition, person: KnownPerson);

    /// <summary>
    /// A panel's person (<c>$11</c> source, <c>$12</c> their key, <c>$13</c>-<c>$15</c> the ids as sent), in ONE
    /// statement: <c>known</c> finds them in the study; a known person continues as a returning user does (their
    /// number, study number and condition; a number drawn now only if they never had one) and claims nothing, a new
    /// one claims a study number, takes the next visitor number and is recorded with their ids. A withdrawn person (or
    /// one of the other mode) matches nothing and draws nothing; the caller tells why. The caller holds the person's
    /// advisory lock (<see cref="LockRecruitment"/>), so two Plays of one person never both find them unknown.
    /// <c>numbered: false</c> is its fallback, as <see cref="NewVisitorWithoutNumber"/>.
    /// </summary>
    private static string RecruitedRequest(bool numbered) => OneRequest(
        prelude: """
        known AS (
            SELECT r.user_id, u.mode, u.withdrawn_at FROM recruitments r JOIN users u ON u.id = r.user_id
            WHERE r.experiment_id = $1 AND r.source = $11 AND r.participant_key = $12
        ),
        """,
        earlier: """
        SELECT s.condition, s.condition_order, s.study_participant_number FROM experiment_sessions s
        JOIN known k ON k.user_id = s.user_id AND k.withdrawn_at IS NULL AND k.mode = $10
        WHERE s.experiment_id = $1 AND s.study_participant_number IS NOT NULL
        ORDER BY s.condition IS NULL, s.created_at LIMIT 1
        """,
        person: "NOT EXISTS (SELECT 1 FROM known)",
        beforeVisitor: $$"""
        continuing AS (
            UPDATE users u
            SET visitor_number = {{(numbered ? $"COALESCE(u.visitor_number, {NextNumber})" : "u.visitor_number")}},
                updated_at = CASE WHEN u.visitor_number IS NULL THEN now() ELSE u.updated_at END
            FROM (SELECT x.id, x.visitor_number AS previous FROM users x JOIN known k ON k.user_id = x.id FOR UPDATE OF x) p
            WHERE u.id = p.id AND u.mode = $10 AND u.withdrawn_at IS NULL AND EXISTS (SELECT 1 FROM admitted)
            RETURNING u.id, u.visitor_number, u.mode, {{(numbered ? "p.previous IS NULL" : "FALSE")}} AS newly_assigned
        ),
        fresh AS (
            INSERT INTO users (id, is_anonymous, mode, visitor_number, created_at, updated_at)
            SELECT $3, TRUE, $10, {{(numbered ? NextNumber : "NULL")}}, now(), now() FROM claimed
            RETURNING id, visitor_number, mode, {{(numbered ? "TRUE" : "FALSE")}} AS newly_assigned
        ),

        """,
        visitor: "SELECT * FROM continuing UNION ALL SELECT * FROM fresh",
        afterVisitor: """
        recorded AS (
            INSERT INTO recruitments (experiment_id, source, participant_key, participant_id, panel_study_id,
                                      panel_session_id, user_id, created_at)
            SELECT $1, $11, $12, $13, $14, $15, f.id, now() FROM fresh f
        ),

        """);

    /// <summary>A recruited request (<see cref="RecruitedRequest"/>).</summary>
    public static readonly string Recruited = RecruitedRequest(numbered: true);

    /// <summary>Its fallback when numbering failed: a new person is recorded without a number.</summary>
    public static readonly string RecruitedWithoutNumber = RecruitedRequest(numbered: false);

    /// <summary>Fallback when numbering failed: the participant can still play; the admin recovery numbers them
    /// later (and gives the session its condition then). A new visitor's user row is created without a number.</summary>
    public static readonly string NewVisitorWithoutNumber = OneRequest(visitor: """
        INSERT INTO users (id, is_anonymous, mode, visitor_number, created_at, updated_at)
        SELECT $3, TRUE, $10, NULL, now(), now() FROM admitted
        RETURNING id, visitor_number, mode, FALSE AS newly_assigned
        """, earlier: NoEarlierCondition, person: AnyNewPerson);

    /// <summary>Fallback for a returning user: the session takes whatever number the user already has.</summary>
    public static readonly string ReturningUserWithoutNumbering = OneRequest(visitor: """
        SELECT u.id, u.visitor_number, u.mode, FALSE AS newly_assigned
        FROM users u WHERE u.id = $3 AND u.mode = $10 AND EXISTS (SELECT 1 FROM admitted)
        """, earlier: EarlierCondition, person: KnownPerson);

    /// <summary>
    /// Many new visitors in ONE statement (one round trip, one commit), for <see cref="NumberingBatcher"/>: the
    /// same parameters as the single statement, each an array with one element per request, in arrival order.
    /// Only the cheap, common case is numbered here. A request for an unknown experiment, a level out of range, a
    /// least-filled experiment (its starts decide on shared counts, one after another), with an Idempotency-Key
    /// already stored (a replay, a reused key), or past what its study admits gets no row, consumes nothing and
    /// goes on through the single statement, which answers it. <c>room</c> decides how many of each study's
    /// requests it admits (in arrival order: <c>place</c>), from the study's count and cap read under the row
    /// locks the caller took first (<see cref="LockStudies"/>); <c>claimed</c> bumps the counts by as many; only
    /// admitted requests reach <c>nextval</c> (evaluated after the filter and the sort). Each row ends with the
    /// request's position (1-based).
    /// </summary>
    public const string NewVisitors = $$"""
        WITH request AS (
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::uuid[], $5::text[], $6::jsonb[], $7::text[],
                                 $8::bytea[], $9::bytea[], $10::text[])
                WITH ORDINALITY AS r(experiment_id, current_level, user_id, session_id, branching_path, session_data,
                                     idempotency_key, idempotency_fingerprint, secret_hash, mode, {{NumberingStatement.Position}})
        ),
        eligible AS (
            SELECT r.*, e.total_levels, row_number() OVER (PARTITION BY r.experiment_id, r.mode ORDER BY r.position) AS place
            FROM request r JOIN experiments e ON e.id = r.experiment_id
            WHERE r.current_level BETWEEN 1 AND e.total_levels
              AND e.condition_scheme <> '{{ConditionSchemes.LeastFilled}}'
              AND NOT EXISTS (SELECT 1 FROM experiment_sessions s WHERE s.idempotency_key = r.idempotency_key)
        ),
        room AS (
            SELECT e.id, e.participants_numbered AS live_before, e.pilots_numbered AS pilots_before,
                   CASE WHEN e.status <> '{{StudyStatuses.Open}}' THEN 0
                        ELSE LEAST(w.live, GREATEST(COALESCE(e.max_participants - e.participants_numbered, w.live), 0))
                   END AS live_granted,
                   CASE WHEN e.status IN ('{{StudyStatuses.Open}}', '{{StudyStatuses.Draft}}') THEN w.pilots ELSE 0 END
                       AS pilots_granted
            FROM (SELECT experiment_id, count(*) FILTER (WHERE mode <> 'pilot') AS live,
                         count(*) FILTER (WHERE mode = 'pilot') AS pilots
                  FROM eligible GROUP BY experiment_id) w
            JOIN experiments e ON e.id = w.experiment_id
            -- Locked again here (a no-op for a row LockStudies holds): a study that stopped being least-filled
            -- after LockStudies skipped it is read as its last holder committed it, not as this snapshot saw it.
            FOR NO KEY UPDATE OF e
        ),
        claimed AS (
            UPDATE experiments e
            SET participants_numbered = e.participants_numbered + r.live_granted,
                pilots_numbered = e.pilots_numbered + r.pilots_granted
            FROM room r WHERE e.id = r.id AND (r.live_granted > 0 OR r.pilots_granted > 0)
        ),
        numbered AS (
            SELECT r.*, r.place + CASE WHEN r.mode = 'pilot' THEN m.pilots_before ELSE m.live_before END
                       AS study_participant_number,
                   CASE WHEN r.mode = 'pilot' THEN {{NextPilotNumber}} ELSE {{NextLiveNumber}} END AS visitor_number
            FROM eligible r JOIN room m ON m.id = r.experiment_id
            WHERE r.place <= CASE WHEN r.mode = 'pilot' THEN m.pilots_granted ELSE m.live_granted END
            ORDER BY r.position
        ),
        visitor AS (
            INSERT INTO users (id, is_anonymous, mode, visitor_number, created_at, updated_at)
            SELECT n.user_id, TRUE, n.mode, n.visitor_number, now(), now() FROM numbered n
        ),
        earlier AS (
        {{NoEarlierCondition}}
        ),
        assigned AS (
            SELECT v.*, {{ConditionSql.Columns}}
            FROM numbered v JOIN experiments e ON e.id = v.experiment_id LEFT JOIN earlier ON TRUE
        ),
        created AS (
            INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, study_participant_number, mode,
                                             condition, condition_order, current_level, branching_path, is_completed,
                                             session_data, idempotency_key, idempotency_fingerprint, secret_hashes,
                                             created_at, updated_at)
            SELECT a.session_id, a.user_id, a.experiment_id, a.visitor_number, a.study_participant_number, a.mode,
                   a.condition, a.condition_order, a.current_level, a.branching_path, FALSE, a.session_data,
                   a.idempotency_key, a.idempotency_fingerprint, ARRAY[a.secret_hash], now(), now()
            FROM assigned a
            RETURNING id, user_id, experiment_id, visitor_number, study_participant_number, current_level, branching_path,
                      is_completed, created_at, updated_at, mode, condition, condition_order
        ),
        started AS (
            SELECT c.*, a.total_levels, TRUE AS newly_assigned, FALSE AS replayed, TRUE AS same_request, TRUE AS secret_issued,
                   a.position
            FROM created c JOIN assigned a ON a.session_id = c.id
        )
        SELECT {{NumberingStatement.RowColumns}}, {{NumberingStatement.Position}} FROM started
        """;

    /// <summary>The Idempotency-Key locks of a batch (<see cref="NewVisitors"/>), sent before it in the same round
    /// trip: taken in one fixed order (by hash), so two replicas' batches never wait on each other in a cycle.
    /// $1 is the batch's keys (text[]).</summary>
    public const string LockKeys = """
        SELECT pg_advisory_xact_lock(k.hash)
        FROM (SELECT DISTINCT hashtextextended(key, 0) AS hash FROM unnest($1::text[]) AS key ORDER BY 1) k
        """;

    /// <summary>Runs first in the same batch (one round trip, one implicit transaction) when the request carries
    /// an Idempotency-Key: two requests with the same key queue here instead of both numbering a visitor.</summary>
    public const string LockKey = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

    /// <summary>Runs before a recruited request's statement (after its Idempotency-Key's lock), in the same round trip:
    /// two Plays of one panel person in one study queue here, so the second finds the person the first made.
    /// $1 the experiment id, $2 the source, $3 the person's key.</summary>
    public const string LockRecruitment =
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2 || ':' || encode($3, 'hex'), 2))";

    /// <summary>Why a recruited request made no session (only on that rare path): the person the ids name, if any,
    /// and whether they withdrew. $1 the experiment id, $2 the source, $3 the person's key.</summary>
    public const string RecruitedPerson = """
        SELECT u.id, u.withdrawn_at IS NOT NULL FROM recruitments r JOIN users u ON u.id = r.user_id
        WHERE r.experiment_id = $1 AND r.source = $2 AND r.participant_key = $3
        """;

    /// <summary>
    /// Sent first in every numbering round trip. The numbering statements are prepared, and PostgreSQL keeps the
    /// generic plan it makes at about their sixth run until the next ANALYZE. Made while the tables were small (a new
    /// study, just after a pilot), that plan reads <c>experiment_sessions</c> whole, once per statement, however far
    /// the table has grown since; docs/BENCHMARKS.md has what that cost. Every lookup in these statements has an
    /// index, so they are planned with sequential scans and hash and merge joins off: the plan probes indexes
    /// whatever the statistics say. Local to the transaction.
    /// </summary>
    public const string PlanWithIndexes = """
        SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
               set_config('enable_mergejoin', 'off', true)
        """;

    /// <summary>Locks the study's row before the numbering statement, in the same round trip. The statement then
    /// reads the row as the previous holder committed it (READ COMMITTED: a fresh snapshot per statement), so the
    /// study's count, cap and status it checks cannot change before it commits, and a returning person's two
    /// simultaneous first sessions in a study agree on one number. NO KEY: sessions being inserted elsewhere
    /// (which lock the row FOR KEY SHARE through their foreign key) are not held up. $1 is the experiment id.</summary>
    public const string LockStudy = "SELECT 1 FROM experiments WHERE id = $1 FOR NO KEY UPDATE";

    /// <summary>The same for a batch's studies, in one fixed order (by id), so two replicas' batches never wait on
    /// each other in a cycle. A least-filled study is skipped: the batch numbers none of its requests, and its row may
    /// be held by a single start waiting on its tallies, which would hold up every other study's requests in the
    /// batch. $1 is the batch's experiment ids (uuid[]).</summary>
    public const string LockStudies = $"""
        SELECT 1 FROM experiments
        WHERE id = ANY($1) AND condition_scheme <> '{ConditionSchemes.LeastFilled}'
        ORDER BY id FOR NO KEY UPDATE
        """;

    /// <summary>Why a session was not created (only run on that rare path): the study (null columns when there is
    /// none) and the person's mode.</summary>
    public const string Diagnose = """
        SELECT e.total_levels, e.status, e.max_participants, e.participants_numbered, e.slug,
               (SELECT mode FROM users WHERE id = $2)
        FROM (SELECT 1) one LEFT JOIN experiments e ON e.id = $1
        """;
}
