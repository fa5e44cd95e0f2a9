using System.Buffers;
using System.Data;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Responses;

/// <summary>
/// Reads one page of a session's answers (<c>GET /api/session/{id}/responses</c>) with a forward-only reader:
/// each answer's stored JSON goes into the page as the raw text PostgreSQL sends, never parsed, and the page stops
/// at <see cref="ResponsesOptions.MaxPageBytes"/> as well as at its count. Memory per request is one answer plus the
/// page, whatever the answers hold.
/// </summary>
public sealed class ResponsePages(NpgsqlDataSource dataSource, IOptions<ResponsesOptions> options, IOptions<JsonOptions> json)
{
    private const string SessionSql = """
        SELECT EXISTS (SELECT 1 FROM experiment_sessions WHERE id = $1),
               (SELECT created_at FROM experiment_responses WHERE id = $2 AND session_id = $1)
        """;

    private const string Columns = """
        SELECT id, session_id, user_id, visitor_number, level_id, question_id, response_type, file_id, file_url, created_at,
               storage_status, response_data
        FROM experiment_responses
        """;

    private const string FirstRowsSql = Columns + " WHERE session_id = $1 ORDER BY created_at, id LIMIT $2";

    private const string RowsAfterSql = Columns + """
         WHERE session_id = $1 AND (created_at, id) > ($3, $4) ORDER BY created_at, id LIMIT $2
        """;

    /// <summary>Rows are asked for in growing batches: a page cut short by its bytes leaves at most one batch unread
    /// (which the reader still has to skip), instead of the rest of the page's count.</summary>
    private const int FirstBatch = 8;

    private const int LargestBatch = 128;

    private const int JsonbVersion = 1;

    private static readonly Field[] Fields = FieldsOf(ApiJsonContext.Default.ResponseDetails);

    private readonly JsonWriterOptions _writerOptions = new() { Encoder = json.Value.SerializerOptions.Encoder };

    public async Task<ResponsePage> ReadAsync(Guid sessionId, int limit, Guid? after, CancellationToken cancellationToken)
    {
        DateTimeOffset? cursorTime = null;
        await using (var command = dataSource.CreateCommand(SessionSql))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = (object?)after ?? DBNull.Value });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            if (!reader.GetBoolean(0))
            {
                return new ResponsePage(ResponsePageOutcome.NoSession);
            }

            if (after is not null)
            {
                if (reader.IsDBNull(1))
                {
                    return new ResponsePage(ResponsePageOutcome.BadCursor);
                }

                cursorTime = reader.GetFieldValue<DateTimeOffset>(1);
            }
        }

        var maxBytes = options.Value.MaxPageBytes;
        // No backpressure: the page is bounded by maxBytes (or by one answer) and goes out once it is complete, so
        // that the Link header, which depends on where it ends, comes before the body.
        var page = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
        var body = new Utf8JsonWriter(page.Writer, _writerOptions);
        body.WriteStartArray();
        var scratch = new ArrayBufferWriter<byte>(1024);
        using var measure = new Utf8JsonWriter(scratch, _writerOptions);
        var row = new Row();
        var count = 0;
        var more = false;
        var lastId = after;
        var batch = FirstBatch;
        byte[] data = [];
        try
        {
            while (!more)
            {
                var wanted = Math.Min(limit - count, batch) + 1; // one more than the page may take tells whether more follow
                var read = 0;
                await using var command = dataSource.CreateCommand(cursorTime is null ? FirstRowsSql : RowsAfterSql);
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = wanted });
                if (cursorTime is { } time)
                {
                    command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time });
                    command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = lastId!.Value });
                }

                // Sequential access: an answer's JSON is not buffered with its row, it is read once into `data`.
                await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    read++;
                    if (count == limit)
                    {
                        more = true;
                        break;
                    }

                    await row.ReadAsync(reader, cancellationToken);
                    await using (var stream = await reader.GetStreamAsync(Row.DataColumn, cancellationToken))
                    {
                        // jsonb's binary form: a version byte (1), then the JSON text in UTF-8.
                        var stored = checked((int)stream.Length);
                        if (data.Length < stored)
                        {
                            Return(data);
                            data = ArrayPool<byte>.Shared.Rent(stored);
                        }

                        await stream.ReadExactlyAsync(data.AsMemory(0, stored), cancellationToken);
                        if (stored < 2 || data[0] != JsonbVersion)
                        {
                            throw new InvalidOperationException("An answer's jsonb came in an unknown format.");
                        }

                        row.DataLength = stored - 1;
                    }

                    // What this answer adds to the page: its separator, the row with its data, and the closing bracket.
                    scratch.ResetWrittenCount();
                    measure.Reset(scratch);
                    WriteRow(measure, row, "0"u8);
                    measure.Flush();
                    var rowBytes = scratch.WrittenCount - 1 + row.DataLength + (count > 0 ? 1 : 0);
                    if (count > 0 && body.BytesCommitted + body.BytesPending + rowBytes + 1 > maxBytes)
                    {
                        more = true;
                        break;
                    }

                    WriteRow(body, row, data.AsSpan(1, row.DataLength));
                    count++;
                    lastId = row.Id;
                    cursorTime = row.CreatedAt;
                }

                if (read < wanted)
                {
                    break;
                }

                batch = Math.Min(batch * 2, LargestBatch);
            }
        }
        finally
        {
            Return(data);
        }

        body.WriteEndArray();
        await body.FlushAsync(cancellationToken);
        var length = body.BytesCommitted;
        await body.DisposeAsync();
        await page.Writer.CompleteAsync();
        var next = more ? $"</api/session/{sessionId}/responses?limit={limit}&after={lastId}>; rel=\"next\"" : null;
        return new ResponsePage(ResponsePageOutcome.Page, page.Reader, length, next);
    }

    private static void Return(byte[] buffer)
    {
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void WriteRow(Utf8JsonWriter writer, Row row, ReadOnlySpan<byte> data)
    {
        writer.WriteStartObject();
        foreach (var field in Fields)
        {
            field.Write(writer, row, data);
        }

        writer.WriteEndObject();
    }

    /// <summary>The fields in the order and with the names <see cref="ResponseDetails"/> is serialised with, so the
    /// list keeps the shape of a single answer.</summary>
    private static Field[] FieldsOf(JsonTypeInfo<ResponseDetails> type) => type.Properties.Select(p =>
    {
        var name = JsonEncodedText.Encode(p.Name);
        return new Field(p.Name switch
        {
            "id" => (w, r, _) => w.WriteString(name, r.Id),
            "sessionId" => (w, r, _) => w.WriteString(name, r.SessionId),
            "userId" => (w, r, _) => w.WriteString(name, r.UserId),
            "visitorNumber" => (w, r, _) => WriteNumber(w, name, r.VisitorNumber),
            "levelId" => (w, r, _) => w.WriteString(name, r.LevelId),
            "questionId" => (w, r, _) => w.WriteString(name, r.QuestionId),
            "responseType" => (w, r, _) => w.WriteString(name, r.ResponseType),
            "responseData" => (w, _, data) =>
            {
                w.WritePropertyName(name);
                w.WriteRawValue(data, skipInputValidation: true); // jsonb's own output: valid JSON
            }
            ,
            "fileId" => (w, r, _) => w.WriteString(name, r.FileId),
            "fileUrl" => (w, r, _) => w.WriteString(name, r.FileUrl),
            "createdAt" => (w, r, _) => w.WriteString(name, r.CreatedAt),
            "storage" => (w, r, _) =>
            {
                w.WritePropertyName(name);
                JsonSerializer.Serialize(w, r.Storage, ApiJsonContext.Default.StorageInfo);
            }
            ,
            _ => throw new InvalidOperationException($"The answer list does not know how to write '{p.Name}'."),
        });
    }).ToArray();

    private static void WriteNumber(Utf8JsonWriter writer, JsonEncodedText name, int? value)
    {
        if (value is { } number)
        {
            writer.WriteNumber(name, number);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private delegate void FieldWriter(Utf8JsonWriter writer, Row row, ReadOnlySpan<byte> data);

    private sealed record Field(FieldWriter Write);

    /// <summary>One answer's columns, read in order (sequential access), its JSON last.</summary>
    private sealed class Row
    {
        public const int DataColumn = 11;

        public Guid Id { get; private set; }
        public Guid SessionId { get; private set; }
        public Guid UserId { get; private set; }
        public int? VisitorNumber { get; private set; }
        public string LevelId { get; private set; } = "";
        public string QuestionId { get; private set; } = "";
        public string ResponseType { get; private set; } = "";
        public string? FileId { get; private set; }
        public string? FileUrl { get; private set; }
        public DateTimeOffset CreatedAt { get; private set; }
        public StorageInfo Storage { get; private set; } = StorageInfo.NotStored;
        public int DataLength { get; set; }

        public async Task ReadAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
        {
            Id = reader.GetGuid(0);
            SessionId = reader.GetGuid(1);
            UserId = reader.GetGuid(2);
            VisitorNumber = await reader.IsDBNullAsync(3, cancellationToken) ? null : reader.GetInt32(3);
            LevelId = reader.GetString(4);
            QuestionId = reader.GetString(5);
            ResponseType = reader.GetString(6);
            FileId = await reader.IsDBNullAsync(7, cancellationToken) ? null : reader.GetString(7);
            FileUrl = await reader.IsDBNullAsync(8, cancellationToken) ? null : reader.GetString(8);
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(9);
            var status = await reader.IsDBNullAsync(10, cancellationToken) ? null : reader.GetString(10);
            Storage = status is not null && FileId is not null ? new StorageInfo(status, FileId) : StorageInfo.NotStored;
        }
    }
}

public enum ResponsePageOutcome
{
    Page,
    NoSession,
    BadCursor,
}

/// <summary>A page of answers, complete in memory: its length and its <c>Link</c> are known before it goes out.</summary>
public sealed class ResponsePage(ResponsePageOutcome outcome, PipeReader? body = null, long length = 0, string? next = null)
    : IResult, IEndpointMetadataProvider
{
    public ResponsePageOutcome Outcome { get; } = outcome;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = length;
        if (next is not null)
        {
            response.Headers.Link = next;
        }

        try
        {
            await body!.CopyToAsync(response.BodyWriter, httpContext.RequestAborted);
        }
        finally
        {
            await body!.CompleteAsync();
        }
    }

    public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(
            new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(List<ResponseDetails>), ["application/json"]));
}
