using MindJourney.Api.Data;
using Npgsql;

namespace MindJourney.Api.Admin;

/// <summary>
/// Proves the numbering is sound: no number held by two people, the gaps among assigned numbers, sessions and
/// responses whose number disagrees with their owner's, uploads not yet delivered, and the sessions per condition (all
/// from one snapshot). Everything about numbers is live only: pilots have their own sequence and never count here.
/// Each number query walks an index ((mode, visitor_number) on users is unique, unnumbered sessions have a partial
/// index), so it stays fast on large studies.
/// </summary>
public sealed class VisitorNumberAudit(NpgsqlDataSource dataSource)
{
    public const int MaxGapsListed = 1000;

    private const string CountsSql = $"""
        SELECT ({MindJourneyDbContext.VisitorNumberPositionSql}),
               (SELECT count(*) FROM users WHERE mode = 'live'),
               (SELECT count(visitor_number) FROM users WHERE mode = 'live'),
               (SELECT count(*) FROM experiment_sessions WHERE visitor_number IS NULL AND mode = 'live'),
               (SELECT count(*) FROM experiment_sessions s JOIN users u ON u.id = s.user_id
                WHERE u.mode = 'live' AND s.visitor_number IS DISTINCT FROM u.visitor_number),
               (SELECT count(*) FROM experiment_responses r JOIN experiment_sessions s ON s.id = r.session_id
                WHERE s.mode = 'live' AND r.visitor_number IS DISTINCT FROM s.visitor_number),
               (SELECT min(visitor_number) FROM users WHERE mode = 'live'),
               (SELECT max(visitor_number) FROM users WHERE mode = 'live'),
               (SELECT count(*) FROM storage_deliveries),
               (SELECT count(*) FROM storage_deliveries WHERE rejected_at IS NOT NULL),
               (SELECT count(*) FROM users WHERE mode = 'live' AND withdrawn_at IS NOT NULL)
        """;

    // A live number is unique among live users, so if two people share one, at least one of them holds it on a session
    // whose number differs from its user's. Only those numbers are examined: no pass over every session.
    private const string DuplicatesSql = """
        WITH suspect AS (
            SELECT DISTINCT s.visitor_number
            FROM experiment_sessions s JOIN users u ON u.id = s.user_id
            WHERE u.mode = 'live' AND s.visitor_number IS NOT NULL AND s.visitor_number IS DISTINCT FROM u.visitor_number
        )
        SELECT n.visitor_number, count(DISTINCT holder.user_id)
        FROM suspect n
        CROSS JOIN LATERAL (
            SELECT user_id FROM experiment_sessions WHERE visitor_number = n.visitor_number AND mode = 'live'
            UNION SELECT id FROM users WHERE mode = 'live' AND visitor_number = n.visitor_number
        ) holder
        GROUP BY n.visitor_number HAVING count(DISTINCT holder.user_id) > 1
        ORDER BY n.visitor_number LIMIT 1000
        """;

    // Walks the unique index in order; no sort.
    private const string InnerGapsSql = """
        SELECT number + 1, next_number - 1 FROM (
            SELECT visitor_number AS number, lead(visitor_number) OVER (ORDER BY visitor_number) AS next_number
            FROM users WHERE mode = 'live' AND visitor_number IS NOT NULL
        ) ordered
        WHERE next_number > number + 1
        ORDER BY number LIMIT $1
        """;

    // Counted from the sessions, not from the least-filled tallies, so the audit checks what the tallies decided on.
    // Every declared condition is listed (zero when none started yet), and any a session holds that is no longer
    // declared. One pass over the sessions, as the mismatch count already makes. A withdrawn person's sessions count
    // as started (their place was given) and not as completed, as in the tallies.
    private const string ConditionsSql = """
        WITH counted AS (
            SELECT s.experiment_id, s.condition, count(*) AS started,
                   count(*) FILTER (WHERE s.is_completed AND u.withdrawn_at IS NULL) AS completed
            FROM experiment_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.mode = 'live' AND s.condition IS NOT NULL
            GROUP BY s.experiment_id, s.condition
        ),
        declared AS (
            SELECT e.id AS experiment_id, c.name AS condition, c.position
            FROM experiments e CROSS JOIN unnest(e.conditions) WITH ORDINALITY AS c(name, position)
        )
        SELECT COALESCE(d.experiment_id, n.experiment_id), COALESCE(d.condition, n.condition),
               COALESCE(n.started, 0), COALESCE(n.completed, 0)
        FROM declared d FULL JOIN counted n ON n.experiment_id = d.experiment_id AND n.condition = d.condition
        ORDER BY 1, d.position NULLS LAST, 2
        """;

    public async Task<AuditReport> RunAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for every figure, so they agree with each other.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

        long sequence, users, numbered, unnumbered, mismatchedSessions, mismatchedResponses, pendingUploads, rejectedUploads, withdrawn;
        long? min, max;
        await using (var command = new NpgsqlCommand(CountsSql, connection) { CommandTimeout = 300 })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            sequence = reader.GetInt64(0);
            users = reader.GetInt64(1);
            numbered = reader.GetInt64(2);
            unnumbered = reader.GetInt64(3);
            mismatchedSessions = reader.GetInt64(4);
            mismatchedResponses = reader.GetInt64(5);
            min = reader.IsDBNull(6) ? null : reader.GetInt32(6);
            max = reader.IsDBNull(7) ? null : reader.GetInt32(7);
            pendingUploads = reader.GetInt64(8);
            rejectedUploads = reader.GetInt64(9);
            withdrawn = reader.GetInt64(10);
        }

        // No session disagrees with its user, so no number can be held by two people: nothing more to read.
        var duplicates = new List<DuplicateNumber>();
        if (mismatchedSessions > 0)
        {
            await using var command = new NpgsqlCommand(DuplicatesSql, connection) { CommandTimeout = 300 };
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                duplicates.Add(new DuplicateNumber(reader.GetInt32(0), reader.GetInt64(1)));
            }
        }

        // Gaps: before the first number, between numbers, and numbers the sequence issued that nobody holds.
        var gaps = new List<NumberGap>();
        if (min is null)
        {
            if (sequence > 0)
            {
                gaps.Add(new NumberGap(1, sequence));
            }
        }
        else
        {
            if (min > 1)
            {
                gaps.Add(new NumberGap(1, min.Value - 1));
            }

            await using (var command = new NpgsqlCommand(InnerGapsSql, connection) { CommandTimeout = 300 })
            {
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = MaxGapsListed + 1 });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    gaps.Add(new NumberGap(reader.GetInt32(0), reader.GetInt32(1)));
                }
            }

            if (sequence > max)
            {
                gaps.Add(new NumberGap(max.Value + 1, sequence));
            }
        }

        var conditions = new List<ConditionBalance>();
        await using (var command = new NpgsqlCommand(ConditionsSql, connection) { CommandTimeout = 300 })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                conditions.Add(new ConditionBalance(reader.GetGuid(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
            }
        }

        await transaction.CommitAsync(cancellationToken);

        var truncated = gaps.Count > MaxGapsListed;
        return new AuditReport(sequence, users, numbered, unnumbered, duplicates,
            truncated ? gaps[..MaxGapsListed] : gaps, truncated, mismatchedSessions, mismatchedResponses, pendingUploads,
            rejectedUploads, conditions, withdrawn);
    }
}
