using System.Diagnostics;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using Npgsql;

namespace MindJourney.Api.Admin;

/// <summary>
/// Numbers every user and session that has no visitor number (sessions created while numbering had failed),
/// oldest session first, in one transaction; then brings their responses (and stored objects) in line.
/// Safe to run twice (the second run finds nothing) and from two callers at once (they queue on a lock).
/// </summary>
public sealed partial class VisitorNumberRecovery(
    NpgsqlDataSource dataSource,
    ResponseStorage storage,
    VisitorNumberingTelemetry telemetry,
    ILogger<VisitorNumberRecovery> logger)
{
    private const long RecoveryLockKey = 0x4D4A_5245_434F_5652; // "MJRECOVR"
    private const int CommandTimeoutSeconds = 600;

    // Users without a number, in the order their first session arrived (users with no session at all last, by
    // creation). Their rows are locked so a session starting meanwhile cannot number the same user twice.
    private const string UsersToNumberSql = """
        SELECT u.id
        FROM users u
        LEFT JOIN LATERAL (
            SELECT s.created_at, s.id FROM experiment_sessions s
            WHERE s.user_id = u.id ORDER BY s.created_at, s.id LIMIT 1
        ) first_session ON TRUE
        WHERE u.visitor_number IS NULL
        ORDER BY COALESCE(first_session.created_at, u.created_at), first_session.id, u.id
        FOR UPDATE OF u
        """;

    private const string NextNumbersSql = "SELECT nextval('visitor_counter_sequence')::int FROM generate_series(1, $1)";

    private const string NumberUsersSql = """
        UPDATE users u SET visitor_number = v.number, updated_at = now()
        FROM unnest($1::uuid[], $2::int[]) AS v(id, number)
        WHERE u.id = v.id AND u.visitor_number IS NULL
        """;

    // A session takes its user's number: freshly assigned above, or one the user already had.
    private const string NumberSessionsSql = """
        UPDATE experiment_sessions s SET visitor_number = u.visitor_number, updated_at = now()
        FROM users u
        WHERE s.user_id = u.id AND s.visitor_number IS NULL AND u.visitor_number IS NOT NULL
        RETURNING s.id, s.user_id, s.visitor_number, s.created_at
        """;

    private const string AlignResponsesSql = """
        UPDATE experiment_responses r SET visitor_number = s.visitor_number
        FROM experiment_sessions s
        WHERE r.session_id = s.id AND s.visitor_number IS NOT NULL AND r.visitor_number IS DISTINCT FROM s.visitor_number
        RETURNING r.id, r.file_id, r.visitor_number
        """;

    public async Task<RecoveryResult> RecoverAsync(CancellationToken cancellationToken)
    {
        using var activity = VisitorNumberingTelemetry.ActivitySource.StartActivity(VisitorNumberingTelemetry.RecoverActivity);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({RecoveryLockKey})", cancellationToken);

        // Past the lock nothing listens to the caller any more: an admin client that times out must not roll back
        // a transaction that has taken sequence values (each one would be a gap). The run finishes and is logged.
        cancellationToken = CancellationToken.None;
        var sessionsScanned = (int)(long)(await ScalarAsync(connection,
            "SELECT count(*) FROM experiment_sessions WHERE visitor_number IS NULL", cancellationToken))!;

        var users = new List<Guid>();
        await using (var command = new NpgsqlCommand(UsersToNumberSql, connection) { CommandTimeout = CommandTimeoutSeconds })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                users.Add(reader.GetGuid(0));
            }
        }

        if (users.Count > 0)
        {
            var numbers = new List<int>(users.Count);
            await using (var command = new NpgsqlCommand(NextNumbersSql, connection) { Parameters = { new NpgsqlParameter<int> { TypedValue = users.Count } } })
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    numbers.Add(reader.GetInt32(0));
                }
            }

            numbers.Sort(); // oldest visitor gets the lowest number
            await using var number = new NpgsqlCommand(NumberUsersSql, connection) { CommandTimeout = CommandTimeoutSeconds };
            number.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. users] });
            number.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. numbers] });
            await number.ExecuteNonQueryAsync(cancellationToken);
        }

        var assignments = new List<(VisitorNumberAssignment Assignment, DateTime CreatedAt)>();
        await using (var command = new NpgsqlCommand(NumberSessionsSql, connection) { CommandTimeout = CommandTimeoutSeconds })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                assignments.Add((new VisitorNumberAssignment(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2)), reader.GetDateTime(3)));
            }
        }

        var storedObjects = new List<(string ObjectName, int VisitorNumber)>();
        var responsesUpdated = 0;
        await using (var command = new NpgsqlCommand(AlignResponsesSql, connection) { CommandTimeout = CommandTimeoutSeconds })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                responsesUpdated++;
                if (!reader.IsDBNull(1))
                {
                    storedObjects.Add((reader.GetString(1), reader.GetInt32(2)));
                }
            }
        }

        await transaction.CommitAsync(cancellationToken);

        var ordered = assignments.OrderBy(a => a.CreatedAt).ThenBy(a => a.Assignment.SessionId).Select(a => a.Assignment).ToList();
        foreach (var assignment in ordered)
        {
            LogAssigned(logger, assignment.VisitorNumber, assignment.SessionId);
        }

        var objectsUpdated = await UpdateStoredObjectsAsync(storedObjects, cancellationToken);
        var result = new RecoveryResult(sessionsScanned, users.Count, users.Count, responsesUpdated, objectsUpdated, ordered);

        telemetry.Recovered.Add(ordered.Count);
        activity?.SetTag("mindjourney.recovery.sessions_scanned", result.SessionsScanned);
        activity?.SetTag("mindjourney.recovery.numbers_assigned", result.NumbersAssigned);
        activity?.SetTag("mindjourney.recovery.users_updated", result.UsersUpdated);
        activity?.SetTag("mindjourney.recovery.sessions_updated", ordered.Count);
        activity?.SetTag("mindjourney.recovery.responses_updated", result.ResponsesUpdated);
        activity?.SetTag("mindjourney.recovery.objects_updated", result.ObjectsUpdated);
        LogSummary(logger, result.SessionsScanned, result.NumbersAssigned, ordered.Count, result.ResponsesUpdated, result.ObjectsUpdated);
        return result;
    }

    /// <summary>Stored objects carry the visitor number in their metadata; bring them in line after the commit
    /// (storage is not part of the database transaction, and a failure here leaves the database right).
    /// Objects not in storage yet (pending) take the row's number when delivered; objects storage could not patch
    /// now are patched later by the delivery worker, which compares each row with what its object carries.</summary>
    private async Task<int> UpdateStoredObjectsAsync(List<(string ObjectName, int VisitorNumber)> objects, CancellationToken cancellationToken)
    {
        var updated = 0;
        await Parallel.ForEachAsync(objects, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                if (await storage.UpdateVisitorNumberAsync(item.ObjectName, item.VisitorNumber, ct))
                {
                    Interlocked.Increment(ref updated);
                }
            });
        return updated;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = CommandTimeoutSeconds };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = CommandTimeoutSeconds };
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "✅ Assigned visitor number {VisitorNumber} to session {SessionId}")]
    private static partial void LogAssigned(ILogger logger, int visitorNumber, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Visitor number recovery: {SessionsScanned} session(s) without a number, {NumbersAssigned} number(s) assigned, {SessionsUpdated} session(s) and {ResponsesUpdated} response(s) updated, {ObjectsUpdated} stored object(s) updated")]
    private static partial void LogSummary(ILogger logger, int sessionsScanned, int numbersAssigned, int sessionsUpdated, int responsesUpdated, int objectsUpdated);
}
