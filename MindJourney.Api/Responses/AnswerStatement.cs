using MindJourney.Api.Data;
using MindJourney.Api.Storage;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Responses;

/// <summary>One answer without a file, as <see cref="AnswerSql.RecordAnswers"/> takes it. <c>IdempotencyKey</c> is the
/// key's HMAC, never the key as sent. A text answer carries its object's name, size and MD5 (computed here, so the
/// database keeps no copy of the bytes); the others carry none.</summary>
internal sealed record AnswerRequest(
    Guid Id, Guid SessionId, string LevelId, string QuestionId, string ResponseType, string ResponseData, long DataBytes,
    string? IdempotencyKey, byte[]? Fingerprint, AnswerText? Text)
{
    /// <summary>The same answer under the next millisecond's object name (the one it had was taken).</summary>
    public AnswerRequest WithNextObjectName() => this with { Text = Text?.NextMillisecond() };
}

/// <summary>A text answer's object: written by the delivery worker from the answer's own text.</summary>
internal sealed record AnswerText(Guid SessionId, long Length, string Md5Hash, DateTimeOffset UploadedAt)
{
    public string ObjectName => ObjectNames.For(SessionId, ResponseTypes.Text, UploadedAt, ObjectNames.TextFileName);

    public AnswerText NextMillisecond() => this with { UploadedAt = UploadedAt.AddMilliseconds(1) };
}

/// <summary>What the statement did with one answer.</summary>
internal enum AnswerOutcome
{
    Recorded,

    /// <summary>Its session already holds an answer under its Idempotency-Key (<see cref="AnswerResult.Stored"/>).</summary>
    Found,
    NoSession,
    OverQuota,

    /// <summary>A text answer whose object name was taken: send it again under the next millisecond.</summary>
    NameTaken,

    /// <summary>The session's person withdrew: nothing is recorded.</summary>
    Withdrawn,
}

/// <summary>The statement's answer for one request: the row it recorded or found, or why neither, with what the
/// session held before.</summary>
internal sealed record AnswerResult(AnswerOutcome Outcome, ExperimentResponse? Stored, byte[]? StoredFingerprint, long Responses,
    long Bytes);

/// <summary>The parameters of <see cref="AnswerSql"/>, bound from a list of answers, and the rows it answers with.</summary>
internal static class AnswerStatement
{
    /// <summary>A row's answer: its 1-based place in the statement.</summary>
    public const string Position = "position";

    /// <summary>The plan settings, the lock of the answers' sessions, then the work, for these answers in this order.
    /// The work is prepared, so PostgreSQL keeps the plan it makes while a study's tables are small: as for Play
    /// (<see cref="Sessions.VisitorNumberSql.PlanWithIndexes"/>), every lookup in it has an index, and it is planned
    /// to probe them whatever the statistics say.</summary>
    public static void AddTo(NpgsqlBatch batch, IReadOnlyList<AnswerRequest> answers, StorageOptions limits)
    {
        batch.BatchCommands.Add(new NpgsqlBatchCommand(Sessions.VisitorNumberSql.PlanWithIndexes));
        var lockSessions = new NpgsqlBatchCommand(AnswerSql.LockSessions);
        lockSessions.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. answers.Select(a => a.SessionId).Distinct()] });
        batch.BatchCommands.Add(lockSessions);

        var work = new NpgsqlBatchCommand(AnswerSql.RecordAnswers);
        var p = work.Parameters;
        p.Add(Array(NpgsqlDbType.Uuid, answers, a => a.Id));
        p.Add(Array(NpgsqlDbType.Uuid, answers, a => a.SessionId));
        p.Add(Array(NpgsqlDbType.Text, answers, a => a.LevelId));
        p.Add(Array(NpgsqlDbType.Text, answers, a => a.QuestionId));
        p.Add(Array(NpgsqlDbType.Text, answers, a => a.ResponseType));
        p.Add(Array(NpgsqlDbType.Jsonb, answers, a => a.ResponseData));
        p.Add(Array(NpgsqlDbType.Bigint, answers, a => a.DataBytes));
        p.Add(Array(NpgsqlDbType.Text, answers, a => a.IdempotencyKey));
        p.Add(Array(NpgsqlDbType.Bytea, answers, a => a.Fingerprint));
        p.Add(Array(NpgsqlDbType.Text, answers, a => a.Text?.ObjectName));
        p.Add(Array(NpgsqlDbType.Bigint, answers, a => a.Text?.Length));
        p.Add(Array(NpgsqlDbType.Text, answers, a => a.Text?.Md5Hash));
        p.Add(Array(NpgsqlDbType.TimestampTz, answers, a => a.Text?.UploadedAt));
        p.Add(Array(NpgsqlDbType.Text, answers, a => a.Text is null ? null : ResponseRecorder.DownloadUrl(a.Id)));
        p.Add(new NpgsqlParameter<long> { TypedValue = limits.MaxResponsesPerSession });
        p.Add(new NpgsqlParameter<long> { TypedValue = limits.MaxBytesPerSession });
        p.Add(new NpgsqlParameter<string> { TypedValue = ObjectNames.TextContentType });
        p.Add(new NpgsqlParameter<string> { TypedValue = ObjectNames.TextFileName });
        batch.BatchCommands.Add(work);
    }

    private static NpgsqlParameter<T[]> Array<T>(NpgsqlDbType type, IReadOnlyList<AnswerRequest> answers, Func<AnswerRequest, T> value)
    {
        var values = new T[answers.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = value(answers[i]);
        }

        return new NpgsqlParameter<T[]> { NpgsqlDbType = NpgsqlDbType.Array | type, TypedValue = values };
    }

    /// <summary>Reads the work's rows (the reader is on its result) into <paramref name="results"/>, by position.</summary>
    public static async Task ReadAsync(NpgsqlDataReader reader, IReadOnlyList<AnswerRequest> answers, AnswerResult[] results)
    {
        while (await reader.ReadAsync())
        {
            var index = (int)reader.GetInt64(0) - 1;
            var answer = answers[index];
            var (responses, bytes) = reader.IsDBNull(2) ? (0L, 0L) : (reader.GetInt32(2), reader.GetInt64(3));
            if (!reader.IsDBNull(8))
            {
                var (stored, fingerprint) = ReadStored(reader, 8, answer.SessionId);
                results[index] = new AnswerResult(AnswerOutcome.Found, stored, fingerprint, responses, bytes);
            }
            else if (!reader.IsDBNull(5))
            {
                var recorded = new ExperimentResponse
                {
                    Id = answer.Id,
                    SessionId = answer.SessionId,
                    UserId = reader.GetGuid(6),
                    VisitorNumber = reader.IsDBNull(7) ? null : reader.GetInt32(7),
                    LevelId = answer.LevelId,
                    QuestionId = answer.QuestionId,
                    ResponseType = answer.ResponseType,
                    ResponseData = answer.ResponseData,
                    ResponseDataBytes = answer.DataBytes,
                    FileId = answer.Text?.ObjectName,
                    FileUrl = answer.Text is null ? null : ResponseRecorder.DownloadUrl(answer.Id),
                    CreatedAt = reader.GetFieldValue<DateTimeOffset>(5),
                    StorageStatus = answer.Text is null ? null : StorageInfo.Pending,
                };
                results[index] = new AnswerResult(AnswerOutcome.Recorded, recorded, null, responses, bytes);
            }
            else
            {
                var outcome = !reader.GetBoolean(1) ? AnswerOutcome.NoSession
                    : reader.GetBoolean(20) ? AnswerOutcome.Withdrawn
                    : reader.GetBoolean(4) ? AnswerOutcome.NameTaken
                    : AnswerOutcome.OverQuota;
                results[index] = new AnswerResult(outcome, null, null, responses, bytes);
            }
        }
    }

    /// <summary>An answer stored under a key (<see cref="AnswerSql.StoredColumns"/> from <paramref name="first"/> on),
    /// with the fingerprint its key was first sent with.</summary>
    public static (ExperimentResponse Answer, byte[]? Fingerprint) ReadStored(NpgsqlDataReader reader, int first, Guid sessionId)
    {
        var answer = new ExperimentResponse
        {
            Id = reader.GetGuid(first),
            SessionId = sessionId,
            UserId = reader.GetGuid(first + 1),
            VisitorNumber = reader.IsDBNull(first + 2) ? null : reader.GetInt32(first + 2),
            LevelId = reader.GetString(first + 3),
            QuestionId = reader.GetString(first + 4),
            ResponseType = reader.GetString(first + 5),
            ResponseData = reader.GetString(first + 6),
            FileId = reader.IsDBNull(first + 7) ? null : reader.GetString(first + 7),
            FileUrl = reader.IsDBNull(first + 8) ? null : reader.GetString(first + 8),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(first + 9),
            StorageStatus = reader.IsDBNull(first + 10) ? null : reader.GetString(first + 10),
        };
        return (answer, reader.IsDBNull(first + 11) ? null : reader.GetFieldValue<byte[]>(first + 11));
    }
}
