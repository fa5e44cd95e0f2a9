using System.Diagnostics;
using MindJourney.Api.Data;
using MindJourney.Api.Sessions;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using Npgsql;

namespace MindJourney.Api.Admin;

/// <summary>
/// Numbers every user and session that has no visitor number (sessions created while numbering had failed),
/// oldest session first, in one transaction (a pilot from the pilot sequence, everyone else from the live one), gives
/// each such session the condition its number assigns; then brings their responses (and stored objects) in line.
/// Safe to run twice (the second run finds nothing) and from two callers at once (they queue on a lock).
/// </summary>
public sealed partial class VisitorNumberRecovery(
    NpgsqlDataSource dataSource,
    StoredObjectNumbers objectNumbers,
    VisitorNumberingTelemetry telemetry,
    ILogger<VisitorNumberRecovery> logger)
{
    private const long RecoveryLockKey = 0x4D4A_5245_434F_5652; // "MJRECOVR"
    private const int CommandTimeoutSeconds = 600;
    private const int ConditionsPerBatch = 500;

    // Users without a number, in the order their first session arrived (users with no session at all last, by
    // creation). Their rows are locked so a session starting meanwhile cannot number the same user twice.
    private const string UsersToNumberSql = """
        SELECT u.id, u.mode
        FROM users u
        LEFT JOIN LATERAL (
            SELECT s.created_at, s.id FROM experiment_sessions s
            WHERE s.user_id = u.id ORDER BY s.created_at, s.id LIMIT 1
        ) first_session ON TRUE
        WHERE u.visitor_number IS NULL
        ORDER BY COALESCE(first_session.created_at, u.created_at), first_session.id, u.id
        FOR UPDATE OF u
        """;

    private const string NextNumbersSql = "SELECT nextval($2::regclass)::int FROM generate_series(1, $1)";

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
        RETURNING s.id, s.user_id, s.visitor_number, s.created_at, s.mode
        """;

    // One numbered session's condition, as Play would have given it with that number (ConditionSql). Sent one per
    // session, oldest first, in batches: a least-filled choice counts the ones before it, and a person's later
    // session finds the condition just given to their earlier one.
    private const string AssignConditionSql = $$"""
        WITH v AS (
            SELECT id, user_id, experiment_id, mode, visitor_number, study_participant_number, is_completed
            FROM experiment_sessions WHERE id = $1 AND condition IS NULL AND visitor_number IS NOT NULL
        ),
        e AS (
            SELECT id, conditions, condition_scheme FROM experiments WHERE id = (SELECT experiment_id FROM v)
        ),
        earlier AS (
            SELECT s.condition, s.condition_order
            FROM experiment_sessions s JOIN v ON s.user_id = v.user_id AND s.experiment_id = v.experiment_id
            WHERE s.condition IS NOT NULL
            ORDER BY s.created_at LIMIT 1
        ),
        assigned AS (
            SELECT v.id, v.experiment_id, v.mode, v.is_completed AS done, e.condition_scheme,
                   {{ConditionSql.Columns}}
            FROM v CROSS JOIN e LEFT JOIN earlier ON TRUE
        ),
        tallied AS (
            {{ConditionSql.CountStart}}
        ),
        updated AS (
            UPDATE experiment_sessions s SET condition = a.condition, condition_order = a.condition_order
            FROM assigned a WHERE s.id = a.id AND a.condition IS NOT NULL
        )
        SELECT condition FROM assigned
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

        await connection.ExecuteAsync($"SELECT pg_advisory_xact_lock({RecoveryLockKey})", CommandTimeoutSeconds, cancellationToken);
        // Before any user row: Play takes an experiment's lock first and the user's row after, so must this.
        await connection.ExecuteAsync(ConditionSql.LockAllLeastFilled, CommandTimeoutSeconds, cancellationToken);

        // Past the lock nothing listens to the caller any more: an admin client that times out must not roll back
        // a transaction that has taken sequence values (each one would be a gap). The run finishes and is logged.
        cancellationToken = CancellationToken.None;
        var sessionsScanned = (int)(long)(await connection.ScalarAsync(
            "SELECT count(*) FROM experiment_sessions WHERE visitor_number IS NULL", CommandTimeoutSeconds, cancellationToken))!;

        var users = new List<(Guid Id, string Mode)>();
        await using (var command = new NpgsqlCommand(UsersToNumberSql, connection) { CommandTimeout = CommandTimeoutSeconds })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                users.Add((reader.GetGuid(0), reader.GetString(1)));
            }
        }

        if (users.Count > 0)
        {
            var ids = new List<Guid>(users.Count);
            var numbers = new List<int>(users.Count);
            foreach (var (mode, sequence) in NumberSources)
            {
                var ofMode = users.Where(u => u.Mode == mode).Select(u => u.Id).ToList();
                if (ofMode.Count > 0)
                {
                    var taken = await NextNumbersAsync(connection, sequence, ofMode.Count, cancellationToken);
                    taken.Sort(); // oldest visitor gets the lowest number
                    ids.AddRange(ofMode);
                    numbers.AddRange(taken);
                }
            }

            await using var number = new NpgsqlCommand(NumberUsersSql, connection) { CommandTimeout = CommandTimeoutSeconds };
            number.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids] });
            number.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. numbers] });
            await number.ExecuteNonQueryAsync(cancellationToken);
        }

        var numbered = new List<(Guid SessionId, Guid UserId, int VisitorNumber, DateTime CreatedAt, string Mode)>();
        await using (var command = new NpgsqlCommand(NumberSessionsSql, connection) { CommandTimeout = CommandTimeoutSeconds })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                numbered.Add((reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), reader.GetDateTime(3), reader.GetString(4)));
            }
        }

        numbered.Sort((a, b) => a.CreatedAt != b.CreatedAt ? a.CreatedAt.CompareTo(b.CreatedAt) : a.SessionId.CompareTo(b.SessionId));
        var ordered = new List<VisitorNumberAssignment>(numbered.Count);
        foreach (var chunk in numbered.Chunk(ConditionsPerBatch))
        {
            var conditions = await AssignConditionsAsync(connection, chunk.Select(s => s.SessionId), cancellationToken);
            ordered.AddRange(chunk.Select((s, i) =>
                new VisitorNumberAssignment(s.SessionId, s.UserId, s.VisitorNumber, s.Mode, conditions[i])));
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

        foreach (var assignment in ordered)
        {
            LogAssigned(logger, assignment.VisitorNumber, assignment.SessionId);
        }

        var objectsUpdated = await UpdateStoredObjectsAsync(storedObjects, cancellationToken);
        var result = new RecoveryResult(sessionsScanned, users.Count, responsesUpdated, objectsUpdated, ordered);

        telemetry.Recovered.Add(ordered.Count);
        activity?.SetTag("mindjourney.recovery.sessions_scanned", result.SessionsScanned);
        activity?.SetTag("mindjourney.recovery.numbers_assigned", result.NumbersAssigned);
        activity?.SetTag("mindjourney.recovery.sessions_updated", ordered.Count);
        activity?.SetTag("mindjourney.recovery.responses_updated", result.ResponsesUpdated);
        activity?.SetTag("mindjourney.recovery.objects_updated", result.ObjectsUpdated);
        LogSummary(logger, result.SessionsScanned, result.NumbersAssigned, ordered.Count, result.ResponsesUpdated, result.ObjectsUpdated);
        return result;
    }

    private static readonly (string Mode, string Sequence)[] NumberSources =
    [
        (SessionModes.Live, MindJourneyDbContext.VisitorNumberSequence),
        (SessionModes.Pilot, MindJourneyDbContext.PilotNumberSequence),
    ];

    private static async Task<List<int>> NextNumbersAsync(NpgsqlConnection connection, string sequence, int count,
        CancellationToken cancellationToken)
    {
        var numbers = new List<int>(count);
        await using var command = new NpgsqlCommand(NextNumbersSql, connection)
        {
            Parameters = { new NpgsqlParameter<int> { TypedValue = count }, new NpgsqlParameter<string> { TypedValue = sequence } },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            numbers.Add(reader.GetInt32(0));
        }

        return numbers;
    }

    /// <summary>The conditions of these sessions, in their order (null where the experiment declares none).</summary>
    private static async Task<List<string?>> AssignConditionsAsync(NpgsqlConnection connection, IEnumerable<Guid> sessionIds,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection) { Timeout = CommandTimeoutSeconds };
        foreach (var sessionId in sessionIds)
        {
            var command = new NpgsqlBatchCommand(AssignConditionSql);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
            batch.BatchCommands.Add(command);
        }

        var conditions = new List<string?>(batch.BatchCommands.Count);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        do
        {
            conditions.Add(await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0) ? reader.GetString(0) : null);
        }
        while (await reader.NextResultAsync(cancellationToken));

        return conditions;
    }

    /// <summary>Stored objects carry the visitor number in their metadata; bring them in line after the commit
    /// (storage is not part of the database transaction, and a failure here leaves the database right).
    /// Objects not in storage yet (pending) take the row's number when delivered; objects storage could not patch
    /// now are patched later by the delivery worker, which compares each row with what its object carries.</summary>
    private async Task<int> UpdateStoredObjectsAsync(
        List<(string ObjectName, int VisitorNumber)> objects, CancellationToken cancellationToken)
    {
        var updated = 0;
        await Parallel.ForEachAsync(objects, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                if (await objectNumbers.UpdateVisitorNumberAsync(item.ObjectName, item.VisitorNumber, ct))
                {
                    Interlocked.Increment(ref updated);
                }
            });
        return updated;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "✅ Assigned visitor number {VisitorNumber} to session {SessionId}")]
    private static partial void LogAssigned(ILogger logger, int visitorNumber, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Visitor number recovery: {SessionsScanned} session(s) without a number, {NumbersAssigned} number(s) assigned, " +
            "{SessionsUpdated} session(s) and {ResponsesUpdated} response(s) updated, {ObjectsUpdated} stored object(s) updated")]
    private static partial void LogSummary(
        ILogger logger, int sessionsScanned, int numbersAssigned, int sessionsUpdated, int responsesUpdated, int objectsUpdated);
}
