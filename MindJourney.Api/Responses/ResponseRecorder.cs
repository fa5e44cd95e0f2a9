using MindJourney.Api.Data;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Responses;

/// <summary>Saves a response with its session's user and visitor number, read and written in one statement so
/// the number cannot drift from the session's.</summary>
public sealed partial class ResponseRecorder(NpgsqlDataSource dataSource, ILogger<ResponseRecorder> logger)
{
    private const string InsertSql = """
        INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id,
                                          response_type, response_data, file_id, file_url, created_at)
        SELECT $1, s.id, s.user_id, s.visitor_number, $3, $4, $5, $6, $7, $8, now()
        FROM experiment_sessions s WHERE s.id = $2
        RETURNING user_id, visitor_number, created_at
        """;

    public async Task<ResponseResponse?> RecordAsync(Guid sessionId, string levelId, string questionId,
        string responseType, string responseDataJson, CancellationToken cancellationToken,
        Guid? responseId = null, string? fileId = null, string? fileUrl = null, StorageInfo? storage = null)
    {
        var entity = new ExperimentResponse
        {
            Id = responseId ?? Guid.CreateVersion7(),
            SessionId = sessionId,
            LevelId = levelId,
            QuestionId = questionId,
            ResponseType = responseType,
            ResponseData = responseDataJson,
            FileId = fileId,
            FileUrl = fileUrl,
        };

        await using var command = dataSource.CreateCommand(InsertSql);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<Guid> { TypedValue = entity.Id });
        p.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
        p.Add(new NpgsqlParameter<string> { TypedValue = levelId });
        p.Add(new NpgsqlParameter<string> { TypedValue = questionId });
        p.Add(new NpgsqlParameter<string> { TypedValue = responseType });
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = responseDataJson });
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)fileId ?? DBNull.Value });
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)fileUrl ?? DBNull.Value });

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        entity.UserId = reader.GetGuid(0);
        entity.VisitorNumber = reader.IsDBNull(1) ? null : reader.GetInt32(1);
        entity.CreatedAt = reader.GetFieldValue<DateTimeOffset>(2);

        if (entity.VisitorNumber is { } number)
        {
            LogCreated(logger, number);
        }
        else
        {
            LogCreatedWithoutNumber(logger, sessionId);
        }

        return ResponseResponse.From(entity, storage ?? StorageInfo.NotStored);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "✅ Response created for visitor #{VisitorNumber}")]
    private static partial void LogCreated(ILogger logger, int visitorNumber);

    [LoggerMessage(Level = LogLevel.Information, Message = "✅ Response created for session {SessionId} (no visitor number yet)")]
    private static partial void LogCreatedWithoutNumber(ILogger logger, Guid sessionId);
}
