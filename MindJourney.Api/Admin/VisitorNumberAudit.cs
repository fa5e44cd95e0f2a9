using Npgsql;

namespace MindJourney.Api.Admin;

/// <summary>
/// Proves the numbering is sound: no number held by two people, the gaps among assigned numbers, sessions and
/// responses whose number disagrees with their owner's, and uploads not yet delivered (all from one snapshot). Each query walks an index
/// (users.visitor_number is unique, unnumbered sessions have a partial index), so it stays fast on large studies.
/// </summary>
public sealed class VisitorNumberAudit(NpgsqlDataSource dataSource)
{
    public const int MaxGapsListed = 1000;

    private const string CountsSql = """
        SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM visitor_counter_sequence),
               (SELECT count(*) FROM users),
               (SELECT count(visitor_number) FROM users),
               (SELECT count(*) FROM experiment_sessions WHERE visitor_number IS NULL),
               (SELECT count(*) FROM experiment_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.visitor_number IS DISTINCT FROM u.visitor_number),
               (SELECT count(*) FROM experiment_responses r JOIN experiment_sessions s ON s.id = r.session_id
                WHERE r.visitor_number IS DISTINCT FROM s.visitor_number),
               (SELECT min(visitor_number) FROM users),
               (SELECT max(visitor_number) FROM users),
               (SELECT count(*) FROM storage_deliveries),
               (SELECT count(*) FROM storage_deliveries WHERE rejected_at IS NOT NULL)
        """;

    // users.visitor_number is unique, so if two people share a number, at least one of them holds it on a session
    // whose number differs from its user's. Only those numbers are examined: no pass over every session.
    private const string DuplicatesSql = """
        WITH suspect AS (
            SELECT DISTINCT s.visitor_number
            FROM experiment_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.visitor_number IS NOT NULL AND s.visitor_number IS DISTINCT FROM u.visitor_number
        )
        SELECT n.visitor_number, count(DISTINCT holder.user_id)
        FROM suspect n
        CROSS JOIN LATERAL (
            SELECT user_id FROM experiment_sessions WHERE visitor_number = n.visitor_number
            UNION SELECT id FROM users WHERE visitor_number = n.visitor_number
        ) holder
        GROUP BY n.visitor_number HAVING count(DISTINCT holder.user_id) > 1
        ORDER BY n.visitor_number LIMIT 1000
        """;

    // Walks the unique index in order; no sort.
    private const string InnerGapsSql = """
        SELECT number + 1, next_number - 1 FROM (
            SELECT visitor_number AS number, lead(visitor_number) OVER (ORDER BY visitor_number) AS next_number
            FROM users WHERE visitor_number IS NOT NULL
        ) ordered
        WHERE next_number > number + 1
        ORDER BY number LIMIT $1
        """;

    public async Task<AuditReport> RunAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for every figure, so they agree with each other.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

        long sequence, users, numbered, unnumbered, mismatchedSessions, mismatchedResponses, pendingUploads, rejectedUploads;
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

        await transaction.CommitAsync(cancellationToken);

        var truncated = gaps.Count > MaxGapsListed;
        return new AuditReport(sequence, users, numbered, unnumbered, duplicates,
            truncated ? gaps[..MaxGapsListed] : gaps, truncated, mismatchedSessions, mismatchedResponses, pendingUploads,
            rejectedUploads);
    }
}
