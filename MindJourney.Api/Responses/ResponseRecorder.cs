using MindJourney.Api.Data;
using MindJourney.Api.Storage;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Responses;

/// <summary>Saves a response with its session's user and visitor number, read and written in one statement so
/// the number cannot drift from the session's. A response with a file (or a text for storage) is saved together
/// with its delivery record and bytes, in one transaction: once committed, the upload cannot be lost.</summary>
public sealed partial class ResponseRecorder(NpgsqlDataSource dataSource, ILogger<ResponseRecorder> logger)
{
    private const string InsertSql = """
        INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id,
                                          response_type, response_data, created_at)
        SELECT $1, s.id, s.user_id, s.visitor_number, $3, $4, $5, $6, now()
        FROM experiment_sessions s WHERE s.id = $2
        FOR SHARE OF s -- an admin recovery numbering this session right now commits first; the row then has its number
        RETURNING user_id, visitor_number, created_at
        """;

    /// <summary>Saves a response that has nothing to store (an email address, or an answer with neither file nor
    /// text). Null when the session does not exist.</summary>
    public async Task<ResponseResponse?> RecordAsync(Guid sessionId, string levelId, string questionId,
        string responseType, string responseDataJson, CancellationToken cancellationToken)
    {
        var entity = new ExperimentResponse
        {
            Id = Guid.CreateVersion7(),
            SessionId = sessionId,
            LevelId = levelId,
            QuestionId = questionId,
            ResponseType = responseType,
            ResponseData = responseDataJson,
        };

        await using var command = dataSource.CreateCommand(InsertSql);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<Guid> { TypedValue = entity.Id });
        p.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
        p.Add(new NpgsqlParameter<string> { TypedValue = levelId });
        p.Add(new NpgsqlParameter<string> { TypedValue = questionId });
        p.Add(new NpgsqlParameter<string> { TypedValue = responseType });
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = responseDataJson });

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        entity.UserId = reader.GetGuid(0);
        entity.VisitorNumber = reader.IsDBNull(1) ? null : reader.GetInt32(1);
        entity.CreatedAt = reader.GetFieldValue<DateTimeOffset>(2);

        Log(sessionId, entity.VisitorNumber);
        return ResponseResponse.From(entity, StorageInfo.NotStored);
    }

    // The response, its delivery record (leased to this request for its own attempt) and, below, its bytes.
    // The final SELECT tells "no such session" (no row) from "object name taken" (a row without the response).
    private const string InsertWithDeliverySql = """
        WITH response AS (
            INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id,
                                              response_type, response_data, file_id, file_url, created_at, storage_status)
            SELECT $1, s.id, s.user_id, s.visitor_number, $3, $4, $5, $6, $7, $8, now(), 'pending'
            FROM experiment_sessions s WHERE s.id = $2
            FOR SHARE OF s -- as in InsertSql: the number a running recovery assigns, not the null before it
            ON CONFLICT (file_id) DO NOTHING
            RETURNING id, user_id, visitor_number, created_at
        ), delivery AS (
            INSERT INTO storage_deliveries (response_id, object_name, content_type, size_bytes, md5_hash, original_name,
                                            uploaded_at, attempts, next_attempt_at, created_at)
            SELECT id, $7, $9, $10, $11, $12, $13, $14, now() + $15, now() FROM response
        )
        SELECT r.id IS NOT NULL, r.user_id, r.visitor_number, r.created_at, s.experiment_id
        FROM experiment_sessions s LEFT JOIN response r ON true
        WHERE s.id = $2
        """;

    /// <summary>Saves the response, its delivery record and <paramref name="content"/> in one transaction. Null
    /// when the session does not exist (nothing is saved). <paramref name="lease"/> keeps the workers off the
    /// delivery while the caller tries it; zero hands it to them at once.</summary>
    public async Task<RecordedUpload?> RecordWithContentAsync(Guid sessionId, string levelId, string questionId,
        string responseType, string responseDataJson, UploadContent content, TimeSpan lease, CancellationToken cancellationToken)
    {
        var responseId = Guid.CreateVersion7();
        var uploadedAt = DateTimeOffset.UtcNow;
        // Two uploads of one session, type and file name in the same millisecond would share a name: the unique
        // file_id index refuses the second, which then takes the next millisecond.
        for (var attempt = 0; ; attempt++)
        {
            var objectName = ObjectNames.For(sessionId, responseType, uploadedAt, content.FileName);
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
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

                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    return null;
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
                    await StorageDeliveries.WriteContentAsync(connection, responseId, bytes, cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
                Log(sessionId, visitorNumber);

                var entity = new ExperimentResponse
                {
                    Id = responseId,
                    SessionId = sessionId,
                    UserId = userId,
                    VisitorNumber = visitorNumber,
                    LevelId = levelId,
                    QuestionId = questionId,
                    ResponseType = responseType,
                    ResponseData = responseDataJson,
                    FileId = objectName,
                    FileUrl = DownloadUrl(responseId),
                    CreatedAt = createdAt,
                    StorageStatus = StorageInfo.Pending,
                };
                var delivery = new DeliveryItem(responseId, objectName, content.ContentType, content.Length, content.Md5Hash,
                    content.OriginalName, uploadedAt, lease > TimeSpan.Zero ? 1 : 0, sessionId, userId, experimentId,
                    visitorNumber, responseType);
                return new RecordedUpload(entity, delivery);
            }
        }
    }

    /// <summary>The URL the API serves a response's file at (<c>GET /api/download/{responseId}</c>).</summary>
    public static string DownloadUrl(Guid responseId) => $"/api/download/{responseId:D}";

    private void Log(Guid sessionId, int? visitorNumber)
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

    [LoggerMessage(Level = LogLevel.Information, Message = "✅ Response created for visitor #{VisitorNumber}")]
    private static partial void LogCreated(ILogger logger, int visitorNumber);

    [LoggerMessage(Level = LogLevel.Information, Message = "✅ Response created for session {SessionId} (no visitor number yet)")]
    private static partial void LogCreatedWithoutNumber(ILogger logger, Guid sessionId);
}

/// <summary>A response saved with its pending delivery.</summary>
public sealed record RecordedUpload(ExperimentResponse Response, DeliveryItem Delivery);
