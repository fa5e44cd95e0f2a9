using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using MindJourney.Api.Admin;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Storage;
using Npgsql;

namespace MindJourney.Api.Export;

/// <summary>What the action log keeps of an export. <c>Outcome</c>: <c>completed</c>, <c>cut-off</c> (the client
/// left) or <c>failed</c> (the database or storage failed midway); the counts are what was sent until then.</summary>
public sealed record ExportDetails(string Format, int? From, int? To, string Mode, long Rows, long Files, long MissingFiles, long Bytes,
    string Outcome, Guid? ExperimentId);

public static partial class ExportApi
{
    public const string Zip = "zip";

    /// <summary>Maps on the admin group (<see cref="AdminRoutes.MapAdminGroup"/>), which carries the key and the rules.</summary>
    public static RouteGroupBuilder MapExportApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/export", Export)
            .WithName("ExportResponses")
            .WithSummary("Every response (and every session without one) as CSV or JSON Lines, or a zip with the files, streamed");

        return admin;
    }

    /// <summary>The group's validation checks each parameter, the handler the range, before anything is sent; then
    /// streams. Once the body has started, a failure can only cut the connection: the client sees an incomplete
    /// download, never a short file that looks whole.</summary>
    public static Results<PushStreamHttpResult, ProblemHttpResult> Export(
        [AllowedValues(ExportRowWriter.Csv, ExportRowWriter.Jsonl, Zip,
            ErrorMessage = "format must be one of " + ExportRowWriter.Csv + ", " + ExportRowWriter.Jsonl + ", " + Zip + ".")]
        string? format,
        [AllowedValues(SessionModes.Live, SessionModes.Pilot, ExportFilter.All,
            ErrorMessage = "mode must be one of " + SessionModes.Live + ", " + SessionModes.Pilot + ", " + ExportFilter.All + ".")]
        string? mode,
        [VisitorNumber] string? from,
        [VisitorNumber] string? to,
        Guid? experimentId,
        HttpContext http, [AsParameters] ExportServices services)
    {
        var (bulk, actions) = (services.Bulk, services.Actions);
        format ??= ExportRowWriter.Csv;
        mode ??= SessionModes.Live;
        var (first, last) = (VisitorNumberAttribute.Parse(from), VisitorNumberAttribute.Parse(to));
        if (first > last)
        {
            return Problems.BadRequest($"from ({first}) is after to ({last}).");
        }

        if (!services.Gate.TryEnter())
        {
            http.Response.Headers.RetryAfter = "10";
            return Problems.Create(StatusCodes.Status429TooManyRequests, "Too many requests",
                "An export is already running on this server; retry when it has finished.");
        }

        var filter = new ExportFilter(mode, first, last, experimentId);
        var range = first is null && last is null ? "" : string.Create(CultureInfo.InvariantCulture, $"-{first}-{last}");
        var fileName = string.Create(CultureInfo.InvariantCulture,
            $"mindjourney-{mode}{range}-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}.{format}");
        var contentType = format switch
        {
            ExportRowWriter.Csv => "text/csv; charset=utf-8; header=present",
            ExportRowWriter.Jsonl => "application/x-ndjson; charset=utf-8",
            _ => "application/zip",
        };
        http.Response.Headers.CacheControl = "private, no-store";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        var logger = services.Loggers.CreateLogger(typeof(ExportApi));
        return TypedResults.Stream(async body =>
        {
            var sent = new ExportStream(body, hash: false);
            var zip = format == Zip
                ? new ZipExport(bulk, services.Deliveries, services.Storage, services.StorageOptions.Value.SpoolFolder, logger)
                : null;
            var rows = zip is null ? new ExportRowWriter(sent, format) : null;
            var outcome = "failed";
            try
            {
                if (zip is not null)
                {
                    await zip.WriteAsync(sent, filter, http.RequestAborted);
                }
                else
                {
                    await WriteRowsAsync(rows!, bulk, filter, http.RequestAborted);
                }

                await sent.FlushAsync(http.RequestAborted);
                outcome = "completed";
            }
            catch (Exception) when (http.RequestAborted.IsCancellationRequested)
            {
                outcome = "cut-off";
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidDataException or PendingContentGoneException
                || ResponseStorage.IsUnavailable(ex))
            {
                LogFailed(logger, format, ex.GetType().Name);
                http.Abort();
            }
            finally
            {
                services.Gate.Leave();
                var details = new ExportDetails(format, first, last, mode, zip?.Rows ?? rows!.Rows, zip?.Files ?? 0,
                    zip?.MissingFiles ?? 0, sent.Written, outcome, experimentId);
                LogExported(logger, format, mode, details.Rows, details.Files, details.Bytes, outcome);
                await actions.RecordAsync(http.User, AdminActionLog.Export, details, ApiJsonContext.Default.ExportDetails);
            }
        }, contentType, fileName);
    }

    private static async Task WriteRowsAsync(ExportRowWriter writer, BulkDataSource bulk, ExportFilter filter,
        CancellationToken cancellationToken)
    {
        await writer.WriteHeaderAsync(cancellationToken);
        await foreach (var row in ExportRows.ReadAsync(bulk.DataSource, filter, cancellationToken))
        {
            await writer.WriteAsync(row, cancellationToken);
        }

        await writer.FlushAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Export {Format} of {Mode} sessions: {Rows} rows, {Files} files, {Bytes} bytes ({Outcome})")]
    private static partial void LogExported(ILogger logger, string format, string mode, long rows, long files, long bytes, string outcome);

    [LoggerMessage(Level = LogLevel.Error, Message = "Export {Format} failed midway ({Error}); the connection was cut")]
    private static partial void LogFailed(ILogger logger, string format, string error);
}
