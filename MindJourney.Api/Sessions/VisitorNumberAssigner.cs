using System.Diagnostics;
using System.Text.Json;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Telemetry;
using Npgsql;

namespace MindJourney.Api.Sessions;

public enum StartSessionError
{
    None,
    ExperimentNotFound,
    LevelOutOfRange,
    StudyNotOpen,
    StudyClosed,
    StudyFull,
    UserNotFound,
    IdempotencyKeyReused,
    ModeMismatch,
    Withdrawn,
}

/// <summary>A start's outcome. For the study refusals (<see cref="StartSessionError.StudyFull"/>, …) the detail is the
/// study's slug.</summary>
public readonly record struct StartSessionResult(SessionDetails? Session, bool Replayed, StartSessionError Error, string? Detail)
{
    /// <summary>The session secret handed out with this start (or replay): returned to the client once, kept only
    /// as a hash.</summary>
    public string? Secret { get; init; }

    public static StartSessionResult Failed(StartSessionError error, string detail) => new(null, false, error, detail);
}

/// <summary>
/// Starts a session and gives it its visitor number. Starting a session writes the user's number, the user row and
/// the session row with its condition in one database round trip (<see cref="VisitorNumberSql"/>); a pilot draws
/// from the pilot sequence, never the live one. New visitors that arrive together are numbered together, by one
/// statement (<see cref="NumberingBatcher"/>); a returning user, and whatever that statement does not number, goes
/// through the single statement. Both send it through <see cref="NumberingStatement"/>. A panel's person (a
/// recruitment) always goes through the single statement, under the person's lock: panels send tens of people a
/// second, not thousands, and finding or making the person is one more step only they need. When numbering fails the
/// session is still created, without a number, so the participant can play (the admin recovery numbers it later).
/// </summary>
public sealed partial class VisitorNumberAssigner(
    NpgsqlDataSource dataSource,
    NumberingBatcher batcher,
    IdempotencyKeyHasher keyHasher,
    RecruitmentKeyHasher recruitmentHasher,
    VisitorNumberingTelemetry telemetry,
    ILogger<VisitorNumberAssigner> logger)
{
    public async Task<StartSessionResult> StartSessionAsync(
        Guid experimentId, Guid? userId, int currentLevel, string? branchingPath, JsonElement? sessionData,
        string? idempotencyKey, string mode, CancellationToken cancellationToken, RecruitmentInput? recruitment = null)
    {
        var sessionId = Guid.CreateVersion7();
        var startedAt = Stopwatch.GetTimestamp();
        using var activity = VisitorNumberingTelemetry.ActivitySource.StartActivity(VisitorNumberingTelemetry.AssignActivity);
        activity?.SetTag(VisitorNumberingTelemetry.SessionIdTag, sessionId);

        var sessionDataJson = sessionData is { } data ? data.GetRawText() : null;
        var fingerprint = idempotencyKey is null ? null
            : IdempotencyFingerprint.Of(experimentId, userId, currentLevel, branchingPath, sessionDataJson, mode, recruitment);
        var secret = SessionSecrets.Issue();
        var recruited = recruitment is null ? null : new Recruited(recruitment.Source!, recruitmentHasher.Hash(recruitment.ParticipantId!),
            recruitment.ParticipantId!, recruitment.StudyId, recruitment.SessionId);
        var args = new NumberingRequest(experimentId, currentLevel, userId ?? Guid.CreateVersion7(), sessionId,
            branchingPath, sessionDataJson, idempotencyKey is null ? null : keyHasher.Hash(idempotencyKey), fingerprint, secret.Hash,
            mode, recruited);

        // The common case, a new visitor, is numbered with those arriving beside it; what that statement leaves
        // (a replay, a least-filled experiment, a request to refuse, a batch PostgreSQL refused) comes back empty.
        var row = userId is null && recruited is null ? await batcher.NumberAsync(args, cancellationToken) : null;
        var outcome = VisitorNumberingTelemetry.OutcomeAssigned;
        if (row is null)
        {
            var single = await StartOneAsync(args, userId, activity, cancellationToken);
            if (single.Failed is { } failed)
            {
                return failed;
            }

            (row, outcome) = (single.Row, single.Outcome);
        }

        var created = row!.Value;
        if (!created.SameRequest)
        {
            // Nothing of the first request's session (its user, its number) may reach a different request.
            return StartSessionResult.Failed(StartSessionError.IdempotencyKeyReused,
                "This Idempotency-Key was already used for a different request (another user, experiment or body). "
                + "Send a new key for a new request.");
        }

        var session = created.Session;
        activity?.SetTag(VisitorNumberingTelemetry.VisitorNumberTag, session.VisitorNumber);
        activity?.SetTag(VisitorNumberingTelemetry.OutcomeTag, outcome);
        activity?.SetTag(VisitorNumberingTelemetry.ModeTag, session.Mode);
        activity?.SetTag(VisitorNumberingTelemetry.ConditionTag, session.Condition);
        if (created.Replayed)
        {
            // The first request already counted this assignment. Past its first replays a key mints no more secrets.
            return new StartSessionResult(session, true, StartSessionError.None, null)
            {
                Secret = created.SecretIssued ? secret.Value : null,
            };
        }

        var outcomeTag = new KeyValuePair<string, object?>(VisitorNumberingTelemetry.OutcomeTag, outcome);
        var tags = new TagList { outcomeTag, { VisitorNumberingTelemetry.ModeTag, session.Mode } };
        if (session.Condition is not null)
        {
            tags.Add(VisitorNumberingTelemetry.ConditionTag, session.Condition);
        }

        telemetry.Assignments.Add(1, tags);
        telemetry.AssignDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, outcomeTag);
        if (session.VisitorNumber is { } number)
        {
            LogAssigned(logger, number, session.Id);
        }

        return new StartSessionResult(session, false, StartSessionError.None, null) { Secret = secret.Value };
    }

    /// <summary>One request through the single statement: a returning user, or what a batch did not number.</summary>
    private async Task<(NumberingRow? Row, string Outcome, StartSessionResult? Failed)> StartOneAsync(NumberingRequest args, Guid? userId,
        Activity? activity, CancellationToken cancellationToken)
    {
        // A database that cannot be reached (or has no connection to spare) numbered nothing and saved nothing:
        // that surfaces as 503 and the client retries, with its Idempotency-Key. Only a numbering statement that
        // PostgreSQL ran and refused for good (not a transient fault such as a cut connection) leads to the fallback.
        await using var connection = await OpenAsync(cancellationToken);

        // From here on the request's cancellation is not passed on: once the numbering statement is sent it runs
        // to its end whatever the client does, so a client that leaves never burns a number (a cancelled statement
        // would roll back after nextval). Its retry with the same Idempotency-Key gets the session.

        NumberingRow? row;
        string outcome;
        try
        {
            row = await ExecuteAsync(connection, args.Recruitment is not null ? VisitorNumberSql.Recruited
                : userId is null ? VisitorNumberSql.NewVisitor : VisitorNumberSql.ReturningUser, args);
            outcome = row is { NewlyAssigned: true } ? VisitorNumberingTelemetry.OutcomeAssigned : VisitorNumberingTelemetry.OutcomeReused;
        }
        catch (PostgresException ex) when (!ex.IsTransient && !PostgresErrors.IsCausedByClientData(ex))
        {
            var errorType = ex.SqlState;
            LogNumberingFailed(logger, ex.Message, ex);
            activity?.SetTag(VisitorNumberingTelemetry.ErrorTypeTag, errorType);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);

            // If this one fails too the database is unreachable, and the caller answers 503.
            var fallback = args.Recruitment is not null ? VisitorNumberSql.RecruitedWithoutNumber
                : userId is null ? VisitorNumberSql.NewVisitorWithoutNumber : VisitorNumberSql.ReturningUserWithoutNumbering;
            row = await ExecuteAsync(connection, fallback, args);
            outcome = row is { Session.VisitorNumber: not null }
                ? VisitorNumberingTelemetry.OutcomeReused
                : VisitorNumberingTelemetry.OutcomeFallback;
            if (row is not null && outcome == VisitorNumberingTelemetry.OutcomeFallback)
            {
                telemetry.Fallbacks.Add(1, new KeyValuePair<string, object?>(VisitorNumberingTelemetry.ErrorTypeTag, errorType));
                LogFallback(logger);
            }
        }

        if (row is null)
        {
            if (args.Recruitment is { } person)
            {
                // The ids name a person: why they got nothing is theirs (withdrawn, or of the other mode).
                var (known, withdrawn) = await RecruitedPersonAsync(connection, args.ExperimentId, person, cancellationToken);
                if (withdrawn)
                {
                    return (null, outcome, StartSessionResult.Failed(StartSessionError.Withdrawn, "withdrawn"));
                }

                userId = known;
            }

            return (null, outcome, await DiagnoseAsync(connection, args.ExperimentId, userId, args.CurrentLevel, args.Mode,
                cancellationToken));
        }

        return (row, outcome, null);
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken);
        }
        catch (NpgsqlException ex)
        {
            throw new DatabaseUnavailableException(ex);
        }
    }

    private static async Task<NumberingRow?> ExecuteAsync(NpgsqlConnection connection, string sql, NumberingRequest args)
    {
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(VisitorNumberSql.PlanWithIndexes));
        if (args.IdempotencyKey is not null)
        {
            var lockKey = new NpgsqlBatchCommand(VisitorNumberSql.LockKey);
            lockKey.Parameters.Add(new NpgsqlParameter<string> { TypedValue = args.IdempotencyKey });
            batch.BatchCommands.Add(lockKey);
        }

        if (args.Recruitment is { } person)
        {
            var lockPerson = new NpgsqlBatchCommand(VisitorNumberSql.LockRecruitment);
            lockPerson.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = args.ExperimentId });
            lockPerson.Parameters.Add(new NpgsqlParameter<string> { TypedValue = person.Source });
            lockPerson.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = person.ParticipantKey });
            batch.BatchCommands.Add(lockPerson);
        }

        // Takes a lock only for a least-filled experiment (its starts decide on shared counts); same round trip.
        var lockExperiment = new NpgsqlBatchCommand(ConditionSql.LockLeastFilled);
        lockExperiment.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = args.ExperimentId });
        batch.BatchCommands.Add(lockExperiment);
        // The study's row: its count, cap and status hold still until this commits (after the advisory locks,
        // which Play and the recovery always take first).
        var lockStudy = new NpgsqlBatchCommand(VisitorNumberSql.LockStudy);
        lockStudy.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = args.ExperimentId });
        batch.BatchCommands.Add(lockStudy);
        batch.BatchCommands.Add(NumberingStatement.ForOne(sql, args));

        await using var reader = await batch.ExecuteReaderAsync();
        for (var before = batch.BatchCommands.Count - 1; before > 0; before--)
        {
            await reader.NextResultAsync();
        }

        return await reader.ReadAsync() ? new NumberingStatement.Columns(reader).Read(reader) : null;
    }

    private static async Task<(Guid? UserId, bool Withdrawn)> RecruitedPersonAsync(NpgsqlConnection connection, Guid experimentId,
        Recruited person, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(VisitorNumberSql.RecruitedPerson, connection);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = experimentId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = person.Source });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = person.ParticipantKey });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetGuid(0), reader.GetBoolean(1)) : (null, false);
    }

    private static async Task<StartSessionResult> DiagnoseAsync(NpgsqlConnection connection, Guid experimentId, Guid? userId,
        int currentLevel, string mode, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(VisitorNumberSql.Diagnose, connection);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = experimentId });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = userId ?? Guid.Empty });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);

        if (reader.IsDBNull(0))
        {
            return StartSessionResult.Failed(StartSessionError.ExperimentNotFound, $"No experiment with id '{experimentId}'.");
        }

        var totalLevels = reader.GetInt32(0);
        if (currentLevel < 1 || currentLevel > totalLevels)
        {
            return StartSessionResult.Failed(StartSessionError.LevelOutOfRange, $"currentLevel must be between 1 and {totalLevels}.");
        }

        if (userId is not null)
        {
            if (reader.IsDBNull(5))
            {
                return StartSessionResult.Failed(StartSessionError.UserNotFound, $"No user with id '{userId}'.");
            }

            var personMode = reader.GetString(5);
            if (personMode != mode)
            {
                // Live and pilot numbers are apart: a pilot never takes a live participant's number, nor the reverse.
                return StartSessionResult.Failed(StartSessionError.ModeMismatch,
                    $"User '{userId}' is a {personMode} participant; start their sessions with mode '{personMode}', "
                    + $"or start a new participant for mode '{mode}'.");
            }
        }

        // The study did not admit a person new to it: why, as the statement decided it.
        var slug = reader.GetString(4);
        var error = reader.GetString(1) switch
        {
            StudyStatuses.Closed => StartSessionError.StudyClosed,
            StudyStatuses.Draft when mode != SessionModes.Pilot => StartSessionError.StudyNotOpen,
            _ => StartSessionError.StudyFull,
        };
        return StartSessionResult.Failed(error, slug);
    }

    // Per request, so Debug: the counters and spans carry the same facts at any load.
    [LoggerMessage(Level = LogLevel.Debug, Message = "✅ Assigned visitor number {VisitorNumber} to session {SessionId}")]
    private static partial void LogAssigned(ILogger logger, int visitorNumber, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Error, Message = "❌ Error creating session with visitor number: {Detail}")]
    private static partial void LogNumberingFailed(ILogger logger, string detail, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "⚠️ Session created without visitor number as fallback")]
    private static partial void LogFallback(ILogger logger);
}
