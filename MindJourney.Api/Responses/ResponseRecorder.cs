using System.Text;
using Microsoft.Extensions.Options;
using MindJourney.Api.Data;
using MindJourney.Api.Storage;
using MindJourney.Api.Withdrawal;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Responses;

/// <summary>Saves a response with a file (or a text whose content is its JSON) with its session's user and visitor
/// number, together with its delivery record and bytes, in one transaction: once committed, the upload cannot be
/// lost. Answers without a file are recorded by <see cref="AnswerBatcher"/>. Also finds the answer a session holds
/// under an Idempotency-Key.</summary>
public sealed partial class ResponseRecorder(NpgsqlDataSource dataSource, BulkDataSource bulk, IOptions<StorageOptions> options,
    ILogger<ResponseRecorder> logger)
{
    /// <summary>What a session holds against its quotas (the upload path's check, under the row's lock).</summary>
    private const string UsageForUpdateSql =
        "SELECT response_count, file_count, stored_bytes FROM experiment_sessions WHERE id = $1 FOR UPDATE";

    /// <summary>The answer a session holds under an Idempotency-Key's HMAC, with the fingerprint the key was first
    /// sent with; null when it holds none.</summary>
    public async Task<(ExperimentResponse Answer, byte[]? Fingerprint)?> FindByKeyAsync(Guid sessionId, string idempotencyKey,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(AnswerSql.FindByKey);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = idempotencyKey });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? AnswerStatement.ReadStored(reader, 0, sessionId) : null;
    }

    // The response, its delivery record (leased to this request for its own attempt) and, below, its bytes.
    // The final SELECT tells "no such session" (no row) from "object name taken" (a row without the response).
    private const string InsertWithDeliverySql = """
        WITH session AS (
            UPDATE experiment_sessions
            SET response_count = response_count + 1, stored_bytes = stored_bytes + $10 + $16,
                file_count = file_count + CASE WHEN $5 <> 'text' THEN 1 ELSE 0 END
            WHERE id = $2
            RETURNING id),
        response AS (
            INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id,
                                              response_type, response_data, file_id, file_url, created_at, storage_status,
                                              file_size_bytes, file_md5, response_data_bytes, idempotency_key,
                                              idempotency_fingerprint)
            SELECT $1, s.id, s.user_id, s.visitor_number, $3, $4, $5, $6, $7, $8, now(), 'pending', $10, $11, $16, $17, $18
            FROM experiment_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id = $2 AND u.withdrawn_at IS NULL -- read after the session's lock: a withdrawal that committed is seen
            FOR SHARE OF s -- the number a running recovery assigns, not the null before it
            ON CONFLICT (file_id) DO NOTHING
            RETURNING id, user_id, visitor_number, created_at
        ), delivery AS (
            INSERT INTO storage_deliveries (response_id, object_name, content_type, size_bytes, md5_hash, original_name,
                                            uploaded_at, attempts, next_attempt_at, created_at)
            SELECT id, $7, $9, $10, $11, $12, $13, $14, now() + $15, now() FROM response
        )
        SELECT r.id IS NOT NULL, r.user_id, r.visitor_number, r.created_at, s.experiment_id, u.withdrawn_at IS NOT NULL
        FROM experiment_sessions s JOIN users u ON u.id = s.user_id LEFT JOIN response r ON true
        WHERE s.id = $2
        """;

    /// <summary>Saves the response, its delivery record and <paramref name="content"/> in one transaction. Null
    /// when the session does not exist (nothing is saved). <paramref name="lease"/> keeps the workers off the
    /// delivery while the caller tries it; zero hands it to them at once. An <paramref name="idempotencyKey"/> (its
    /// HMAC) the session already holds fails the insert (unique index): the caller replays the answer stored.</summary>
    public Task<RecordedUpload?> RecordWithContentAsync(Guid sessionId, string levelId, string questionId,
        string responseType, string responseDataJson, UploadContent content, TimeSpan lease, string? idempotencyKey,
        byte[]? fingerprint, CancellationToken cancellationToken) =>
        RecordWithContentAsync(new PlannedUpload(Guid.CreateVersion7(), sessionId, DateTimeOffset.UtcNow), levelId, questionId,
            responseType, responseDataJson, content, lease, idempotencyKey, fingerprint, cancellationToken);

    /// <summary>As above, for an upload whose id and name were chosen before (a first attempt at storage that failed:
    /// if storage kept the object after all, the delivery finds it under that name with the same bytes).</summary>
    public async Task<RecordedUpload?> RecordWithContentAsync(PlannedUpload planned, string levelId, string questionId,
        string responseType, string responseDataJson, UploadContent content, TimeSpan lease, string? idempotencyKey,
        byte[]? fingerprint, CancellationToken cancellationToken)
    {
        var (responseId, sessionId, uploadedAt) = planned;
        long dataBytes = Encoding.UTF8.GetByteCount(responseDataJson);
        // Two uploads of one session, type and file name in the same millisecond would share a name: the unique
        // file_id index refuses the second, which then takes the next millisecond.
        for (var attempt = 0; ; attempt++)
        {
            var objectName = ObjectNames.For(sessionId, responseType, uploadedAt, content.FileName);
            // The whole transaction (with its COPY) runs on the bulk pool: uploads queue there, not in front of Play.
            await using var connection = await bulk.DataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await CheckQuotaAsync(connection, transaction, sessionId, responseType, content.Length + dataBytes, cancellationToken);
            await using (var command = new NpgsqlCommand(InsertWithDeliverySql, connection, transaction))
            {
                var p = command.Parameters;
                p.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
                p.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
                p.Add(new NpgsqlParameter<string> { TypedValue = levelId });
                p.Add(new NpgsqlParameter<string> { TypedValue = questionId });
                p.Add(new NpgsqlParameter<string> { TypedValue = responseType });
                p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = responseDataJson });
                p.Add(new NpgsqlParameter<string> { TypedValue = objectName });
                p.Add(new NpgsqlParameter<string> { TypedValue = DownloadUrl(responseId) });
                p.Add(new NpgsqlParameter<string> { TypedValue = content.ContentType });
                p.Add(new NpgsqlParameter<long> { TypedValue = content.Length });
                p.Add(new NpgsqlParameter<string> { TypedValue = content.Md5Hash });
                p.Add(new NpgsqlParameter<string> { TypedValue = content.OriginalName });
                p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = uploadedAt });
                p.Add(new NpgsqlParameter<int> { TypedValue = lease > TimeSpan.Zero ? 1 : 0 });
                p.Add(new NpgsqlParameter<TimeSpan> { TypedValue = lease });
                p.Add(new NpgsqlParameter<long> { TypedValue = dataBytes });
                p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)idempotencyKey ?? DBNull.Value });
                p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = (object?)fingerprint ?? DBNull.Value });

                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    return null;
                }

                if (reader.GetBoolean(5))
                {
                    throw new PersonWithdrawnException(); // rolled back: no row, no delivery, no bytes
                }

                if (!reader.GetBoolean(0))
                {
                    if (attempt >= 20)
                    {
                        throw new InvalidOperationException($"No free object name for response {responseId}.");
                    }

                    await reader.DisposeAsync();
                    await transaction.RollbackAsync(cancellationToken);
                    uploadedAt = uploadedAt.AddMilliseconds(1);
                    continue;
                }

                var userId = reader.GetGuid(1);
                int? visitorNumber = reader.IsDBNull(2) ? null : reader.GetInt32(2);
                var createdAt = reader.GetFieldValue<DateTimeOffset>(3);
                var experimentId = reader.GetGuid(4);
                await reader.DisposeAsync();

                await using (var bytes = content.OpenRead())
                {
                    await DeliveryOutbox.WriteContentAsync(connection, responseId, bytes, cancellationToken);
                }

                if (lease > TimeSpan.Zero)
                {
                    // The COPY may have taken longer than the lease: it runs from now, not from the transaction's start.
                    await using var renew = new NpgsqlCommand(RenewLeaseSql, connection, transaction);
                    renew.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
                    renew.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = lease });
                    await renew.ExecuteNonQueryAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
                LogRecorded(sessionId, visitorNumber);

                var entity = FileResponse(responseId, sessionId, levelId, questionId, responseType, responseDataJson, dataBytes,
                    objectName, StorageInfo.Pending);
                entity.UserId = userId;
                entity.VisitorNumber = visitorNumber;
                entity.CreatedAt = createdAt;
                var delivery = new DeliveryItem(responseId, objectName, content.ContentType, content.Length, content.Md5Hash,
                    content.OriginalName, uploadedAt, lease > TimeSpan.Zero ? 1 : 0, sessionId, userId, experimentId,
                    visitorNumber, responseType);
                return new RecordedUpload(entity, delivery);
            }
        }
    }

    // A file already in storage: the row says stored, with the number its object's metadata carries; no delivery, no
    // copy of its bytes. The counters are checked and bumped by the same statement, under the session row's lock
    // (LockSessionSql, sent before it in the same implicit transaction, so this statement's snapshot sees a withdrawal
    // that committed while it waited). A name some pending row holds fails the statement (the unique file_id index)
    // and bumps nothing.
    private const string LockSessionSql = "SELECT 1 FROM experiment_sessions WHERE id = $1 FOR UPDATE";

    private const string InsertStoredSql = """
        WITH session AS (
            UPDATE experiment_sessions s
            SET response_count = response_count + 1, file_count = file_count + 1, stored_bytes = stored_bytes + $9 + $12
            FROM users u
            WHERE s.id = $2 AND u.id = s.user_id AND u.withdrawn_at IS NULL
              AND response_count < $13 AND file_count < $14 AND stored_bytes + $9 + $12 <= $15
            RETURNING s.id, s.user_id, s.visitor_number)
        INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type,
                                          response_data, file_id, file_url, created_at, storage_status, file_size_bytes,
                                          file_md5, object_visitor_number, response_data_bytes, idempotency_key,
                                          idempotency_fingerprint)
        SELECT $1, s.id, s.user_id, s.visitor_number, $3, $4, $5, $6, $7, $8, now(), 'stored', $9, $10, $11, $12, $16, $17
        FROM session s
        RETURNING user_id, visitor_number, created_at
        """;

    private const string FileIdIndex = "ix_experiment_responses_file_id";

    private const string UsageSql = """
        SELECT s.response_count, s.file_count, s.stored_bytes, u.withdrawn_at IS NOT NULL
        FROM experiment_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1
        """;

    /// <summary>The session an upload is for, read without a lock before its bytes go to storage: a session without
    /// room for <paramref name="sizeBytes"/> more is refused then (<see cref="SessionQuotaExceededException"/>), a
    /// race is settled by <see cref="RecordStoredAsync"/>. Null when there is no such session.</summary>
    public async Task<UploadOwner?> CheckRoomAsync(Guid sessionId, string responseType, long sizeBytes,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT s.user_id, s.experiment_id, s.visitor_number, s.response_count, s.file_count, s.stored_bytes,
                   u.withdrawn_at IS NOT NULL
            FROM experiment_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        if (reader.GetBoolean(6))
        {
            throw new PersonWithdrawnException();
        }

        Refuse(reader.GetInt32(3), reader.GetInt32(4), reader.GetInt64(5), responseType, sizeBytes);
        return new UploadOwner(reader.GetGuid(0), reader.GetGuid(1), reader.IsDBNull(2) ? null : reader.GetInt32(2));
    }

    /// <summary>Saves the response of a file already in storage under <paramref name="objectName"/>, whose metadata
    /// carries <paramref name="objectVisitorNumber"/>, checking and bumping the session's counters. Throws
    /// <see cref="SessionQuotaExceededException"/> when the session has no room left; saves nothing then, nor when
    /// the session is gone or another response holds the name (the result says which). An
    /// <paramref name="idempotencyKey"/> the session already holds fails the insert, as in RecordWithContentAsync.</summary>
    public async Task<StoredRecord> RecordStoredAsync(Guid responseId, Guid sessionId, string levelId, string questionId,
        string responseType, string responseDataJson, string objectName, UploadContent content, int? objectVisitorNumber,
        string? idempotencyKey, byte[]? fingerprint, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        long dataBytes = Encoding.UTF8.GetByteCount(responseDataJson);
        var entity = FileResponse(responseId, sessionId, levelId, questionId, responseType, responseDataJson, dataBytes, objectName,
            StorageInfo.Stored);
        while (true)
        {
            await using (var batch = dataSource.CreateBatch())
            {
                var lockSession = new NpgsqlBatchCommand(LockSessionSql);
                lockSession.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
                batch.BatchCommands.Add(lockSession);
                var insert = new NpgsqlBatchCommand(InsertStoredSql);
                batch.BatchCommands.Add(insert);
                var p = insert.Parameters;
                p.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
                p.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
                p.Add(new NpgsqlParameter<string> { TypedValue = levelId });
                p.Add(new NpgsqlParameter<string> { TypedValue = questionId });
                p.Add(new NpgsqlParameter<string> { TypedValue = responseType });
                p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = responseDataJson });
                p.Add(new NpgsqlParameter<string> { TypedValue = objectName });
                p.Add(new NpgsqlParameter<string> { TypedValue = entity.FileUrl });
                p.Add(new NpgsqlParameter<long> { TypedValue = content.Length });
                p.Add(new NpgsqlParameter<string> { TypedValue = content.Md5Hash });
                p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = (object?)objectVisitorNumber ?? DBNull.Value });
                p.Add(new NpgsqlParameter<long> { TypedValue = dataBytes });
                p.Add(new NpgsqlParameter<long> { TypedValue = limits.MaxResponsesPerSession });
                p.Add(new NpgsqlParameter<long> { TypedValue = limits.MaxFilesPerSession });
                p.Add(new NpgsqlParameter<long> { TypedValue = limits.MaxBytesPerSession });
                p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)idempotencyKey ?? DBNull.Value });
                p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = (object?)fingerprint ?? DBNull.Value });
                try
                {
                    await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                    await reader.NextResultAsync(cancellationToken); // past the lock's row
                    if (await reader.ReadAsync(cancellationToken))
                    {
                        entity.UserId = reader.GetGuid(0);
                        entity.VisitorNumber = reader.IsDBNull(1) ? null : reader.GetInt32(1);
                        entity.CreatedAt = reader.GetFieldValue<DateTimeOffset>(2);
                        LogRecorded(sessionId, entity.VisitorNumber);
                        return new StoredRecord(ResponseDetails.From(entity), NameTaken: false);
                    }
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.ConstraintName == FileIdIndex)
                {
                    return new StoredRecord(null, NameTaken: true);
                }
            }

            // The session filled up since the check (a parallel answer), or is gone; if room was made meanwhile, again.
            await using var usage = dataSource.CreateCommand(UsageSql);
            usage.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
            await using var counters = await usage.ExecuteReaderAsync(cancellationToken);
            if (!await counters.ReadAsync(cancellationToken))
            {
                return new StoredRecord(null, NameTaken: false);
            }

            if (counters.GetBoolean(3))
            {
                throw new PersonWithdrawnException();
            }

            Refuse(counters.GetInt32(0), counters.GetInt32(1), counters.GetInt64(2), responseType, content.Length + dataBytes);
        }
    }

    /// <summary>A response with a file (or a text for storage) as recorded, before the database fills in its user,
    /// number and time.</summary>
    private static ExperimentResponse FileResponse(Guid responseId, Guid sessionId, string levelId, string questionId,
        string responseType, string responseDataJson, long dataBytes, string objectName, string storageStatus) => new()
        {
            Id = responseId,
            SessionId = sessionId,
            LevelId = levelId,
            QuestionId = questionId,
            ResponseType = responseType,
            ResponseData = responseDataJson,
            ResponseDataBytes = dataBytes,
            FileId = objectName,
            FileUrl = DownloadUrl(responseId),
            StorageStatus = storageStatus,
        };

    /// <summary>The MD5 of the file a response names (the row that holds an object name), or null.</summary>
    public async Task<string?> Md5OfAsync(string objectName, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT file_md5 FROM experiment_responses WHERE file_id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = objectName });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private const string RenewLeaseSql = "UPDATE storage_deliveries SET next_attempt_at = clock_timestamp() + $2 WHERE response_id = $1";

    /// <summary>Takes the session's quota lock in <paramref name="transaction"/> and refuses the upload when the session
    /// has no room left for it.</summary>
    private async Task CheckQuotaAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid sessionId,
        string responseType, long sizeBytes, CancellationToken cancellationToken)
    {
        await using var usage = new NpgsqlCommand(UsageForUpdateSql, connection, transaction);
        usage.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
        await using var reader = await usage.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return; // no such session: the insert finds none and says so
        }

        Refuse(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt64(2), responseType, sizeBytes);
    }

    /// <summary>Throws the refusal of an answer of <paramref name="responseType"/> taking <paramref name="sizeBytes"/> in
    /// a session that holds <paramref name="responses"/>, <paramref name="files"/> and <paramref name="bytes"/>.</summary>
    private void Refuse(int responses, int files, long bytes, string responseType, long sizeBytes)
    {
        var limits = options.Value;
        if (responses >= limits.MaxResponsesPerSession)
        {
            throw TooManyResponses(limits);
        }

        if (responseType != ResponseTypes.Text && files >= limits.MaxFilesPerSession)
        {
            throw new SessionQuotaExceededException(StatusCodes.Status413PayloadTooLarge,
                $"This session has uploaded {files} files, the most a session may ({limits.MaxFilesPerSession}).");
        }

        if (bytes + sizeBytes > limits.MaxBytesPerSession)
        {
            throw TooManyBytes(limits, "upload", bytes);
        }
    }

    internal static SessionQuotaExceededException TooManyBytes(StorageOptions limits, string what, long used) =>
        new(StatusCodes.Status413PayloadTooLarge,
            $"This {what} would take the session past its {limits.MaxBytesPerSession} bytes of stored answers and files ({used} used).");

    internal static SessionQuotaExceededException TooManyResponses(StorageOptions limits) =>
        new(StatusCodes.Status409Conflict, $"This session has recorded {limits.MaxResponsesPerSession} responses, the most a session may.");

    /// <summary>The URL the API serves a response's file at (<c>GET /api/download/{responseId}</c>).</summary>
    public static string DownloadUrl(Guid responseId) => $"/api/download/{responseId:D}";

    /// <summary>The original platform's line for every answer recorded (Debug).</summary>
    internal void LogRecorded(Guid sessionId, int? visitorNumber)
    {
        if (visitorNumber is { } number)
        {
            LogCreated(logger, number);
        }
        else
        {
            LogCreatedWithoutNumber(logger, sessionId);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "✅ Response created for visitor #{VisitorNumber}")]
    private static partial void LogCreated(ILogger logger, int visitorNumber);

    [LoggerMessage(Level = LogLevel.Debug, Message = "✅ Response created for session {SessionId} (no visitor number yet)")]
    private static partial void LogCreatedWithoutNumber(ILogger logger, Guid sessionId);
}

/// <summary>A response saved with its pending delivery.</summary>
public sealed record RecordedUpload(ExperimentResponse Response, DeliveryItem Delivery);

/// <summary>The id, session and time (hence object name) of an upload, chosen before it is recorded.</summary>
public sealed record PlannedUpload(Guid ResponseId, Guid SessionId, DateTimeOffset UploadedAt);

/// <summary>Whose an upload is, as its object's metadata says it, read before the upload.</summary>
public sealed record UploadOwner(Guid UserId, Guid ExperimentId, int? VisitorNumber);

/// <summary>A stored file's response as recorded (<see cref="Response"/>), or why not: its name is held by another
/// response (<see cref="NameTaken"/>), or its session is gone (neither).</summary>
public sealed record StoredRecord(ResponseDetails? Response, bool NameTaken);
