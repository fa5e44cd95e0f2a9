using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;

namespace MindJourney.Api.Storage;

/// <summary>
/// Delivers what requests could not (storage down, slow, or not configured yet) from the durable outbox, with
/// capped exponential backoff; resumes after a restart because the outbox is in the database. Each round also brings
/// stored objects' <c>visitorNumber</c> metadata in line with their response rows (<see cref="StoredObjectNumbers"/>).
/// </summary>
public sealed partial class DeliveryWorker(
    ResponseStorage storage,
    DeliveryOutbox deliveries,
    UploadDeliverer deliverer,
    StoredObjectNumbers objectNumbers,
    DeliverySignal signal,
    IOptions<StorageOptions> options,
    ILogger<DeliveryWorker> logger) : BackgroundService
{
    private const int StaleObjectBatch = 50;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!storage.IsConfigured)
        {
            LogNoStorage(logger, StorageTarget.BucketKey, StorageTarget.EmulatorHostKey);
            return;
        }

        LogStarted(logger, storage.Target.Mode, storage.Target.Bucket!);
        // Files and answers' texts are delivered by two loops: a burst of small texts runs many at once (each waits
        // mostly on storage's answer) and a large file never holds it up, nor it the files.
        await Task.WhenAll(
            DeliverAsync(answerTexts: false, settings.MaxParallelDeliveries, settings, stoppingToken),
            DeliverAsync(answerTexts: true, settings.MaxParallelTextDeliveries, settings, stoppingToken));
    }

    private async Task DeliverAsync(bool answerTexts, int parallel, StorageOptions settings, CancellationToken stoppingToken)
    {
        var idle = TimeSpan.FromSeconds(settings.PollIntervalSeconds);
        var databaseDown = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            var roundStarted = Stopwatch.GetTimestamp();
            try
            {
                // The poll itself runs every couple of seconds forever: tracing it would bury the traces that
                // matter. Deliveries it finds are traced (storage.upload).
                IReadOnlyList<DeliveryItem> due;
                using (SuppressInstrumentationScope.Begin())
                {
                    due = await deliveries.ClaimDueAsync(parallel, answerTexts, settings, stoppingToken);
                }

                busy = due.Count > 0;
                if (answerTexts)
                {
                    // The claim carried the texts: one request per object, one statement for the round.
                    await deliverer.DeliverTextsAsync(due, item => settings.AttemptTimeout(item.SizeBytes), stoppingToken);
                }
                else
                {
                    await Task.WhenAll(due.Select(item => deliverer.DeliverAsync(item,
                        _ => Task.FromResult(deliveries.OpenContent(item.ResponseId, item.SizeBytes)),
                        settings.AttemptTimeout(item.SizeBytes), fromRequest: false, stoppingToken)));
                    await objectNumbers.RefreshStaleAsync(StaleObjectBatch, stoppingToken);
                }

                databaseDown = false;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Never let the worker die (a failed BackgroundService stops the host): claimed deliveries keep
                // their lease and come back when it ends. Log an outage once, not every poll.
                if (!databaseDown)
                {
                    LogRoundFailed(logger, ex.GetType().Name, ex.Message);
                }

                databaseDown = ex is NpgsqlException or TimeoutException;
                busy = false;
            }

            var rest = busy && answerTexts
                ? signal.RestAfterTextRound(Stopwatch.GetElapsedTime(roundStarted), settings)
                : TimeSpan.Zero;
            if (rest > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(rest, stoppingToken); // answers queue: they go first
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            else if (!busy)
            {
                try
                {
                    // A text answer just committed wakes the texts' loop at once: its object appears within moments.
                    await (answerTexts ? signal.WaitAsync(idle, stoppingToken) : Task.Delay(idle, stoppingToken));
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "No storage configured (neither {BucketKey} nor {EmulatorKey}): uploads are accepted and kept in the database as " +
            "pending until the API runs with storage")]
    private static partial void LogNoStorage(ILogger logger, string bucketKey, string emulatorKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage delivery worker started ({Mode}, bucket {Bucket})")]
    private static partial void LogStarted(ILogger logger, StorageMode mode, string bucket);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage delivery round failed ({Error}: {Detail}); retrying")]
    private static partial void LogRoundFailed(ILogger logger, string error, string detail);
}
