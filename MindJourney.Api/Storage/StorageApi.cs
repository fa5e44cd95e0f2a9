using Microsoft.AspNetCore.Http.HttpResults;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Sessions;
using Npgsql;

namespace MindJourney.Api.Storage;

public static partial class StorageApi
{
    public static IEndpointRouteBuilder MapStorageApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api")
            .WithTags("Storage")
            .WithRequestValidation()
            .MapGet("/download/{responseId:guid}", Download)
            .WithName("DownloadResponseFile")
            .RequireResponseSessionSecret()
            .RequireRateLimiting(RateLimiting.DownloadPolicy)
            .WithSummary("The stored file (or text) of a response, streamed with its content type");

        return app;
    }

    private const string LookupSql = """
        SELECT r.file_id, r.storage_status, d.content_type, d.size_bytes
        FROM experiment_responses r LEFT JOIN storage_deliveries d ON d.response_id = r.id
        WHERE r.id = $1
        """;

    /// <summary>From storage once delivered; while pending, from the durable copy in the database, slice by slice
    /// with no connection held while the client reads. A delivery that completes meanwhile deletes that copy: the
    /// rest then comes from storage (the same bytes).</summary>
    public static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> Download(
        Guid responseId, HttpContext http, NpgsqlDataSource dataSource, BulkDataSource bulk, ResponseStorage storage,
        DatabaseDeadline deadline, Telemetry.VisitorNumberingTelemetry telemetry, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger(typeof(StorageApi));
        // Only the lookup waits for the database at most the deadline: storage and the client's reading are not timed.
        var found = await deadline.RunForRequestAsync(http, token => LookupAsync(dataSource, responseId, token),
            telemetry.OtherDeadlinesPassed, "A download's lookup");
        if (found is not var (objectName, status, pendingType, pendingSize))
        {
            return Problems.NotFound($"No response with id '{responseId}'.");
        }

        if (objectName is null || status is null)
        {
            return Problems.NotFound($"Response '{responseId}' has no stored file.");
        }

        var fileName = objectName[(objectName.LastIndexOf('/') + 1)..];
        SetSafeHeaders(http);
        if (pendingType is not null)
        {
            http.Response.ContentLength = pendingSize;
            return TypedResults.Stream(
                body => StreamPendingAsync(http, body, bulk, storage, responseId, objectName, pendingSize, logger), pendingType, fileName);
        }

        if (!storage.IsConfigured)
        {
            return Problems.Create(
                StatusCodes.Status503ServiceUnavailable, "Service unavailable", "Storage is not configured on this server.");
        }

        Google.Apis.Storage.v1.Data.Object? stored;
        try
        {
            stored = await storage.FindAsync(objectName, cancellationToken);
        }
        catch (Exception ex) when (ResponseStorage.IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
        {
            http.Response.Headers.RetryAfter = "5";
            return Problems.Create(
                StatusCodes.Status503ServiceUnavailable, "Service unavailable", "Storage cannot be reached; please retry.");
        }

        if (stored is null)
        {
            LogMissing(logger, responseId);
            return Problems.NotFound($"The file of response '{responseId}' is no longer in storage.");
        }

        if (stored.Size is { } size)
        {
            http.Response.ContentLength = (long)size;
        }

        return TypedResults.Stream(async body =>
        {
            try
            {
                await storage.DownloadAsync(stored, body, http.RequestAborted);
            }
            catch (Exception ex) when (ResponseStorage.IsUnavailable(ex))
            {
                // Headers are gone already: cut the connection so the client sees an incomplete body, not a short file.
                LogInterrupted(logger, responseId, ex.GetType().Name);
                http.Abort();
            }
        }, stored.ContentType ?? "application/octet-stream", fileName);
    }

    private static async Task<(string? ObjectName, string? Status, string? PendingType, long PendingSize)?> LookupAsync(
        NpgsqlDataSource dataSource, Guid responseId, CancellationToken cancellationToken)
    {
        await using var lookup = dataSource.CreateCommand(LookupSql);
        lookup.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
        await using var reader = await lookup.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
            reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3));
    }

    private static async Task StreamPendingAsync(HttpContext http, Stream body, BulkDataSource bulk, ResponseStorage storage,
        Guid responseId, string objectName, long size, ILogger logger)
    {
        await using var content = new PendingContentStream(bulk.DataSource, responseId, size);
        try
        {
            try
            {
                await content.CopyToAsync(body, DeliveryOutbox.ChunkBytes / 4, http.RequestAborted);
            }
            catch (PendingContentGoneException gone) when (storage.IsConfigured)
            {
                await storage.DownloadFromAsync(objectName, gone.Offset, body, http.RequestAborted);
            }
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested
            && (ex is PendingContentGoneException or NpgsqlException or InvalidDataException || ResponseStorage.IsUnavailable(ex)))
        {
            // Headers are gone already: cut the connection so the client sees an incomplete body, not a short file.
            LogInterrupted(logger, responseId, ex.GetType().Name);
            http.Abort();
        }
    }

    /// <summary>Uploads are client-chosen bytes served from our origin: never sniffed, never run as a page.</summary>
    private static void SetSafeHeaders(HttpContext http)
    {
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers.ContentSecurityPolicy = "sandbox; default-src 'none'";
        http.Response.Headers.CacheControl = "private, no-store";
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Stored file of response {ResponseId} is missing from storage")]
    private static partial void LogMissing(ILogger logger, Guid responseId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Download of response {ResponseId} interrupted by storage ({Error})")]
    private static partial void LogInterrupted(ILogger logger, Guid responseId, string error);
}
