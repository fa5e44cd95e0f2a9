using MindJourney.Api.Storage;
using Npgsql;

namespace MindJourney.Api.Withdrawal;

/// <summary>What a withdrawal did: the person after it (null: no such person), and whether every object of theirs
/// is gone from storage (false: storage could not be reached; calling again finishes it).</summary>
public sealed record WithdrawalOutcome(WithdrawalResult? Result, bool StorageCleared);

/// <summary>
/// Erases a person's data and keeps their place in the numbering (docs/SECURITY.md, "Withdrawal"). One transaction
/// locks the person, every session of theirs (the lock answers and uploads take before they insert) and their answers
/// in id order (as the delivery worker's completion does), erases their answers (their durable copies and chunks go
/// with them), their sessions' data and branching path, their recruitment ids, takes their completed sessions out of
/// the least-filled tallies, and marks them withdrawn (run again if PostgreSQL aborts it as a deadlock's victim). The
/// user row (their visitor number) and session rows (numbers, condition, study participant number) stay, so the audit
/// finds no gap and the study's cap still counts the place. Then storage: the objects their answers named, and every
/// object under their sessions' folders, whatever a crashed or racing upload left there. Statements that insert an
/// answer or a file check <c>withdrawn_at</c> under the session's lock, so nothing is recorded after the commit; an
/// upload refused so deletes the object it had already written.
/// </summary>
public sealed partial class PersonWithdrawal(NpgsqlDataSource dataSource, ResponseStorage storage, ILogger<PersonWithdrawal> logger)
{
    public const int MaxReasonLength = 500;

    /// <summary>How many times the database part runs when PostgreSQL aborts it as a deadlock's victim.</summary>
    private const int MaxAttempts = 3;

    /// <summary>How long storage's part may take before the call answers 503 (a repeat finishes it): a storage that
    /// does not answer must not hold the researcher's request for the HTTP client's own timeouts.</summary>
    private static readonly TimeSpan StorageTimeout = TimeSpan.FromSeconds(60);

    private const string LockPersonSql = "SELECT visitor_number, withdrawn_at FROM users WHERE id = $1 FOR NO KEY UPDATE";

    private const string LockSessionsSql = "SELECT id, created_at FROM experiment_sessions WHERE user_id = $1 ORDER BY id FOR UPDATE";

    // Once, at the first withdrawal: their completed sessions no longer steer new visitors (they stay started).
    private const string UncountCompletedSql = """
        UPDATE condition_tallies t SET completed = t.completed - c.sessions
        FROM (SELECT experiment_id, mode, condition, count(*) AS sessions FROM experiment_sessions
              WHERE user_id = $1 AND is_completed AND condition IS NOT NULL
              GROUP BY experiment_id, mode, condition) c
        WHERE t.experiment_id = c.experiment_id AND t.mode = c.mode AND t.condition = c.condition
        """;

    // Their answers in id order before any is deleted: the delivery worker's completion locks answers in the same
    // order, and each before its delivery, as the cascade below takes them (docs/RELIABILITY.md, "Lock order"). A
    // DELETE alone would lock them in the order it finds them, which rewritten rows change.
    private const string LockAnswersSql = "SELECT id FROM experiment_responses WHERE session_id = ANY($1) ORDER BY id FOR UPDATE";

    // storage_deliveries and storage_delivery_chunks cascade from their response.
    private const string EraseAnswersSql = "DELETE FROM experiment_responses WHERE session_id = ANY($1) RETURNING file_id";

    private const string EraseSessionDataSql = """
        UPDATE experiment_sessions
        SET session_data = NULL, branching_path = NULL, response_count = 0, file_count = 0, stored_bytes = 0, updated_at = now()
        WHERE id = ANY($1) AND (session_data IS NOT NULL OR branching_path IS NOT NULL OR response_count > 0 OR stored_bytes > 0)
        """;

    // participant_key (an HMAC) stays: a Play with the same panel ids still finds the person, and is refused.
    private const string EraseRecruitmentSql = """
        UPDATE recruitments SET participant_id = NULL, panel_study_id = NULL, panel_session_id = NULL
        WHERE user_id = $1 AND (participant_id IS NOT NULL OR panel_study_id IS NOT NULL OR panel_session_id IS NOT NULL)
        """;

    private const string MarkSql = "UPDATE users SET withdrawn_at = coalesce(withdrawn_at, now()) WHERE id = $1 RETURNING withdrawn_at";

    /// <summary>True when the person withdrew (a resume of them is refused, as their answers are).</summary>
    public async Task<bool> IsWithdrawnAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT withdrawn_at IS NOT NULL FROM users WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = userId });
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>Withdraws the person <paramref name="userId"/>; a repeat erases what is left (nothing, usually) and
    /// keeps the first time.</summary>
    public async Task<WithdrawalOutcome> WithdrawAsync(Guid userId, CancellationToken cancellationToken)
    {
        Erasure? erased;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                erased = await EraseAsync(userId, cancellationToken);
                break;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < MaxAttempts)
            {
                // The lock order makes this rare (background work takes the same order); a new lock-taker that does
                // not must still not refuse a person their withdrawal. Rolled back whole: safe to run again.
                LogDeadlockVictim(logger, userId, attempt);
            }
        }

        if (erased is null)
        {
            return new WithdrawalOutcome(null, StorageCleared: true);
        }

        var (visitorNumber, withdrawnAt, sessions, objectNames, answers) = erased;
        var result = new WithdrawalResult(userId, visitorNumber, withdrawnAt, new ErasedData(answers, objectNames.Count));
        LogWithdrawn(logger, userId, answers, objectNames.Count);
        return new WithdrawalOutcome(result, await ClearStorageAsync(userId, sessions, objectNames));
    }

    /// <summary>What the database part erased: the person's number, the first withdrawal's time, their sessions, the
    /// objects their answers named, and how many answers.</summary>
    private sealed record Erasure(int? VisitorNumber, DateTimeOffset WithdrawnAt, List<(Guid Id, DateTimeOffset CreatedAt)> Sessions,
        List<string> ObjectNames, int Answers);

    /// <summary>The database part, one transaction; null when there is no such person.</summary>
    private async Task<Erasure?> EraseAsync(Guid userId, CancellationToken cancellationToken)
    {
        int? visitorNumber;
        DateTimeOffset withdrawnAt;
        var sessions = new List<(Guid Id, DateTimeOffset CreatedAt)>();
        var objectNames = new List<string>();
        var answers = 0;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        bool first;
        await using (var command = new NpgsqlCommand(LockPersonSql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = userId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            visitorNumber = reader.IsDBNull(0) ? null : reader.GetInt32(0);
            first = reader.IsDBNull(1);
        }

        await using (var command = new NpgsqlCommand(LockSessionsSql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = userId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                sessions.Add((reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1)));
            }
        }

        var sessionIds = sessions.Select(s => s.Id).ToArray();
        if (first)
        {
            await ExecuteAsync(connection, transaction, UncountCompletedSql, userId, cancellationToken);
        }

        await using (var command = new NpgsqlCommand(LockAnswersSql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = sessionIds });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var command = new NpgsqlCommand(EraseAnswersSql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = sessionIds });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                answers++;
                if (!reader.IsDBNull(0))
                {
                    objectNames.Add(reader.GetString(0));
                }
            }
        }

        await using (var command = new NpgsqlCommand(EraseSessionDataSql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = sessionIds });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await ExecuteAsync(connection, transaction, EraseRecruitmentSql, userId, cancellationToken);
        await using (var command = new NpgsqlCommand(MarkSql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = userId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            withdrawnAt = reader.GetFieldValue<DateTimeOffset>(0);
        }

        await transaction.CommitAsync(cancellationToken);
        return new Erasure(visitorNumber, withdrawnAt, sessions, objectNames, answers);
    }

    /// <summary>After the commit, so an upload that lost the race has already been refused (and deletes its own
    /// object). Not the request's token (a caller that leaves must not stop the erasure half-way), but a deadline.</summary>
    private async Task<bool> ClearStorageAsync(Guid userId, List<(Guid Id, DateTimeOffset CreatedAt)> sessions, List<string> named)
    {
        if (!storage.IsConfigured)
        {
            return true;
        }

        using var deadline = new CancellationTokenSource(StorageTimeout);
        try
        {
            foreach (var name in named)
            {
                await storage.DeleteIfThereAsync(name, deadline.Token);
            }

            // A session's objects sit under a folder per UTC day: every day of its life, from the day before its start
            // (clocks of replicas differ) to tomorrow.
            var until = DateTimeOffset.UtcNow.AddDays(1);
            foreach (var (sessionId, createdAt) in sessions)
            {
                for (var day = createdAt.AddDays(-1); day.UtcDateTime.Date <= until.UtcDateTime.Date; day = day.AddDays(1))
                {
                    foreach (var name in await storage.ListNamesAsync(ObjectNames.SessionFolder(sessionId, day), deadline.Token))
                    {
                        await storage.DeleteIfThereAsync(name, deadline.Token);
                    }
                }
            }

            return true;
        }
        catch (Exception ex) when (ResponseStorage.IsUnavailable(ex))
        {
            LogStorageLeft(logger, userId, ex.GetType().Name);
            return false;
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, Guid userId,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = userId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Person {UserId} withdrew: {Answers} answers and {Files} files erased")]
    private static partial void LogWithdrawn(ILogger logger, Guid userId, int answers, int files);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Withdrawal of person {UserId} was aborted as a deadlock's victim (attempt {Attempt}); running it again")]
    private static partial void LogDeadlockVictim(ILogger logger, Guid userId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Person {UserId} withdrew, but storage could not be cleared ({Error}); withdrawing them again finishes it")]
    private static partial void LogStorageLeft(ILogger logger, Guid userId, string error);
}
