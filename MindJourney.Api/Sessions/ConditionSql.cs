namespace MindJourney.Api.Sessions;

/// <summary>
/// How a numbered session gets its condition, shared by Play (<see cref="VisitorNumberSql"/>) and the admin
/// recovery. The columns read three row sources named <c>v</c> (mode, visitor_number, study_participant_number: the
/// number within the study, which the condition is drawn from, so that each study is balanced on its own however
/// many studies share the visitor numbers; no condition while the person has no visitor number), <c>e</c> (the experiment:
/// id, conditions, condition_scheme) and <c>earlier</c> (the person's first session in this experiment that has a
/// condition, if any): a returning person keeps theirs; otherwise the scheme decides.
/// </summary>
internal static class ConditionSql
{
    // cycle and latin-square need only the number. least-filled reads the tallies of the person's mode: callers
    // hold the experiment's lock (LockLeastFilled) and read them in a statement that starts after it, so two
    // visitors never decide on the same counts.
    public const string Columns = """
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
        """;

    /// <summary>Serialises the starts of one least-filled experiment (and nothing else: other schemes need no
    /// counts). Sent as its own statement before the one that reads the tallies: under READ COMMITTED each statement
    /// takes a fresh snapshot, so the reader sees what the previous lock holder committed. Two int4 keys, so it never
    /// collides with the bigint keys of the Idempotency-Key and recovery locks. $1 is the experiment id.</summary>
    public const string LockLeastFilled = """
        SELECT pg_advisory_xact_lock(1296715846, hashtext(id::text))
        FROM experiments WHERE id = $1 AND condition_scheme = 'least-filled'
        """;

    /// <summary>The same lock for every least-filled experiment, in a fixed order (the recovery takes them all
    /// before it locks users, the order Play takes them in, so neither waits on the other in a cycle).</summary>
    public const string LockAllLeastFilled = """
        SELECT pg_advisory_xact_lock(1296715846, hashtext(id::text))
        FROM experiments WHERE condition_scheme = 'least-filled' ORDER BY id
        """;

    /// <summary>One more started (and, for a session numbered after it was completed, completed) session in a
    /// least-filled tally. Reads a CTE <c>assigned</c> (experiment_id, mode, condition, condition_scheme, done).</summary>
    public const string CountStart = """
        INSERT INTO condition_tallies (experiment_id, mode, condition, started, completed)
        SELECT a.experiment_id, a.mode, a.condition, 1, CASE WHEN a.done THEN 1 ELSE 0 END
        FROM assigned a WHERE a.condition IS NOT NULL AND a.condition_scheme = 'least-filled'
        ON CONFLICT (experiment_id, mode, condition)
        DO UPDATE SET started = condition_tallies.started + 1, completed = condition_tallies.completed + excluded.completed
        """;

    /// <summary>A session turned completed (or back): its tally follows, in the same statement, so two PATCHes
    /// at once count it once (the second finds it already turned). Only least-filled experiments have tallies.
    /// Parameters @id (the session) and @completed (the new is_completed).</summary>
    public const string Complete = """
        WITH turned AS (
            UPDATE experiment_sessions SET is_completed = @completed, updated_at = now()
            WHERE id = @id AND is_completed <> @completed
            RETURNING experiment_id, mode, condition
        )
        UPDATE condition_tallies t SET completed = t.completed + CASE WHEN @completed THEN 1 ELSE -1 END
        FROM turned
        WHERE t.experiment_id = turned.experiment_id AND t.mode = turned.mode AND t.condition = turned.condition
        """;
}
