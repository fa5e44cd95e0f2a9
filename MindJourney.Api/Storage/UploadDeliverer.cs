using System.Diagnostics;
using Microsoft.Extensions.Options;
using MindJourney.Api.Telemetry;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;

namespace MindJourney.Api.Storage;

/// <summary>One delivery attempt, the same for the request that accepted the upload and for the worker: upload
/// within a deadline, then mark the response stored, or put the delivery back with a backoff.</summary>
public sealed partial class UploadDeliverer(
    ResponseStorage storage,
    DeliveryOutbox deliveries,
    StorageTelemetry telemetry,
    ResiliencePipelineProvider<string> pipelines,
    IOptions<StorageOptions> options,
    ILogger<UploadDeliverer> logger)
{
    /// <summary>The name of the circuit breaker every attempt runs through (Polly's logs and
    /// <c>resilience.polly.strategy.events</c> metrics carry it as <c>pipeline.name</c>).</summary>
    public const string OutageBreaker = "storage-outage";

    /// <summary>The breaker's state is the memory of an outage: once storage failed to answer, attempts (the
    /// request's and the worker's) stop reaching it for a few seconds (a request answers pending at once and leaves
    /// the upload to the worker), then one attempt tries again and its outcome closes or reopens the circuit. Keeps an
    /// outage from adding the full upload timeout to every request. A refusal of one upload
    /// (<see cref="ResponseStorage.IsRejection"/>) or a conflict says nothing about storage's health: not counted.</summary>
    internal static void AddOutageBreaker(ResiliencePipelineBuilder pipeline)
    {
        pipeline.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex
                && ResponseStorage.IsUnavailable(ex) && !ResponseStorage.IsRejection(ex)),
            // Polly's smallest sample: two attempts within five seconds, at least half of them failed.
            MinimumThroughput = 2,
            FailureRatio = 0.5,
            SamplingDuration = TimeSpan.FromSeconds(5),
            BreakDuration = TimeSpan.FromSeconds(5),
        });
    }

    private readonly ResiliencePipeline _breaker = pipelines.GetPipeline(OutageBreaker);

    /// <summary>True when the object is in storage and the response marked stored. Never throws for storage
    /// trouble; the delivery stays pending and is retried.</summary>
    public async Task<bool> DeliverAsync(DeliveryItem item, Func<CancellationToken, Task<Stream>> openContent, TimeSpan timeout,
        bool fromRequest, CancellationToken cancellationToken)
    {
        using var activity = StartUpload(item);
        var attempt = await AttemptAsync(item, async token =>
        {
            await using var content = await openContent(token);
            return await storage.UploadAsync(item, content, token);
        }, activity, timeout, fromRequest, cancellationToken);
        if (!attempt.Uploaded)
        {
            return false;
        }

        if (!await deliveries.CompleteAsync(item.ResponseId, attempt.Carried, CancellationToken.None))
        {
            await EraseWithdrawnAsync(item);
            return false;
        }

        MarkStored(item, activity, fromRequest);
        return true;
    }

    /// <summary>
    /// The worker's round of answers' texts (each carrying its bytes, <see cref="DeliveryItem.AnswerText"/>): every
    /// object written at once, each by one request, then all those written completed by one statement. A completion
    /// that fails leaves their deliveries leased: they come back when the lease ends and find their objects in place
    /// (counted as delivered), so nothing is lost or written twice. Never throws for storage trouble.
    /// </summary>
    public async Task DeliverTextsAsync(IReadOnlyList<DeliveryItem> items, Func<DeliveryItem, TimeSpan> timeout,
        CancellationToken cancellationToken)
    {
        var activities = items.Select(StartUpload).ToArray();
        try
        {
            var attempts = await Task.WhenAll(items.Select((item, i) => AttemptAsync(item, token =>
            {
                var text = item.AnswerText ?? throw new InvalidOperationException($"Delivery {item.ResponseId} carries no text.");
                if (text.Length != item.SizeBytes)
                {
                    throw new InvalidDataException($"The text of response {item.ResponseId} has an unexpected size.");
                }

                return storage.UploadInOneRequestAsync(item, text, token);
            }, activities[i], timeout(item), fromRequest: false, cancellationToken)));

            var uploaded = Enumerable.Range(0, items.Count).Where(i => attempts[i].Uploaded).ToList();
            if (uploaded.Count == 0)
            {
                return;
            }

            HashSet<Guid> gone;
            try
            {
                gone = (await deliveries.CompleteManyAsync(
                    [.. uploaded.Select(i => (items[i].ResponseId, attempts[i].Carried))], CancellationToken.None)).ToHashSet();
            }
            catch (Exception ex)
            {
                // The objects are in storage; their deliveries stay leased and come back to find them (the round's
                // failure is logged by the worker).
                foreach (var i in uploaded)
                {
                    MarkFailed(activities[i], ex, $"not completed: {ex.GetType().Name}", StorageTelemetry.OutcomeFailed);
                }

                throw;
            }

            foreach (var i in uploaded)
            {
                if (gone.Contains(items[i].ResponseId))
                {
                    await EraseWithdrawnAsync(items[i]);
                }
                else
                {
                    MarkStored(items[i], activities[i], fromRequest: false);
                }
            }
        }
        finally
        {
            foreach (var activity in activities)
            {
                activity?.Dispose();
            }
        }
    }

    private static Activity? StartUpload(DeliveryItem item)
    {
        var activity = StorageTelemetry.ActivitySource.StartActivity(StorageTelemetry.UploadActivity);
        activity?.SetTag(StorageTelemetry.ResponseTypeTag, item.ResponseType);
        activity?.SetTag(StorageTelemetry.ResponseIdTag, item.ResponseId);
        activity?.SetTag(StorageTelemetry.AttemptTag, item.Attempts);
        return activity;
    }

    /// <summary>Writes the object through the outage breaker within <paramref name="timeout"/>: uploaded, with the
    /// visitor number its metadata carries, or not (the delivery put back with its backoff).</summary>
    private async Task<(bool Uploaded, int? Carried)> AttemptAsync(DeliveryItem item,
        Func<CancellationToken, Task<Google.Apis.Storage.v1.Data.Object>> upload, Activity? activity, TimeSpan timeout,
        bool fromRequest, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            var stored = await _breaker.ExecuteAsync(async token => await upload(token), deadline.Token);
            return (true, stored.Metadata is { } metadata && metadata.TryGetValue(DeliveryItem.VisitorNumberKey, out var n)
                && int.TryParse(n, out var parsed) ? parsed : null);
        }
        catch (BrokenCircuitException) when (fromRequest)
        {
            // Storage failed moments ago: answer pending now, the worker delivers.
            activity?.SetTag(StorageTelemetry.OutcomeTag, StorageTelemetry.OutcomeQueued);
            telemetry.RecordUpload(item.ResponseType, StorageTelemetry.OutcomeQueued);
            await deliveries.RescheduleAsync(
                item.ResponseId, TimeSpan.Zero, "storage was unavailable moments ago; left to the worker", CancellationToken.None);
            return (false, null);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Whatever went wrong (storage down, slow, refusing, an answer the client could not read), the
            // bytes stay in the outbox and the delivery is tried again later.
            var error = Describe(ex, timeout);
            var outcome = fromRequest ? StorageTelemetry.OutcomeQueued : StorageTelemetry.OutcomeFailed;
            MarkFailed(activity, ex, error, outcome);
            telemetry.RecordUpload(item.ResponseType, outcome);
            await DeferAsync(item, ex, error);
            return (false, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down mid-attempt: hand the delivery back now rather than when the lease ends, so another
            // replica (or this one after its restart) takes it at once.
            using var release = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await deliveries.RescheduleAsync(item.ResponseId, TimeSpan.Zero, "interrupted by shutdown", release.Token);
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or OperationCanceledException)
            {
                // The lease ends on its own.
            }

            throw;
        }
    }

    /// <summary>Its person withdrew while it travelled: nothing of theirs may stay in storage.</summary>
    private async Task EraseWithdrawnAsync(DeliveryItem item)
    {
        try
        {
            await storage.DeleteIfThereAsync(item.ObjectName, CancellationToken.None);
        }
        catch (Exception ex) when (ResponseStorage.IsUnavailable(ex))
        {
            LogErasedLeft(logger, item.ResponseId, ex.GetType().Name);
        }
    }

    private void MarkStored(DeliveryItem item, Activity? activity, bool fromRequest)
    {
        activity?.SetTag(StorageTelemetry.OutcomeTag, StorageTelemetry.OutcomeStored);
        telemetry.RecordUpload(item.ResponseType, StorageTelemetry.OutcomeStored);
        if (!fromRequest)
        {
            LogDelivered(logger, item.ResponseId, item.Attempts);
        }
    }

    /// <summary>
    /// The first and only attempt of an upload that has no row yet (its bytes are in the request's spool, not in
    /// the outbox): through the outage breaker, within <paramref name="timeout"/>, under a name nobody holds. The
    /// caller records the row once it is there, or falls back to the durable copy and <see cref="DeferAsync"/>.
    /// </summary>
    /// <param name="contentComplete">For content that is still arriving: completes, when it has all arrived, with the
    /// deadline that runs from then on instead of <paramref name="timeout"/>.</param>
    public async Task<NewObjectAttempt> StoreNewAsync(DeliveryItem item, Func<Stream> openContent, TimeSpan timeout,
        CancellationToken cancellationToken, Task<TimeSpan>? contentComplete = null)
    {
        using var activity = StorageTelemetry.ActivitySource.StartActivity(StorageTelemetry.UploadActivity);
        activity?.SetTag(StorageTelemetry.ResponseTypeTag, item.ResponseType);
        activity?.SetTag(StorageTelemetry.ResponseIdTag, item.ResponseId);
        activity?.SetTag(StorageTelemetry.AttemptTag, item.Attempts);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = contentComplete is null ? Task.CompletedTask : StartDeadlineAsync(contentComplete, deadline);
        if (contentComplete is null)
        {
            deadline.CancelAfter(timeout);
        }

        try
        {
            var stored = await _breaker.ExecuteAsync(async token =>
            {
                await using var content = openContent();
                return await storage.CreateNewAsync(item, content, token);
            }, deadline.Token);
            activity?.SetTag(StorageTelemetry.OutcomeTag,
                stored is null ? StorageTelemetry.OutcomeNameTaken : StorageTelemetry.OutcomeStored);
            return new NewObjectAttempt(stored, NameTaken: stored is null, Failure: null, Error: null);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var error = Describe(ex, timeout);
            MarkFailed(activity, ex, error,
                ex is SpoolAbandonedException ? StorageTelemetry.OutcomeAbandoned : StorageTelemetry.OutcomeQueued);
            return new NewObjectAttempt(null, NameTaken: false, ex, error);
        }
        finally
        {
            await started;
        }
    }

    private static async Task StartDeadlineAsync(Task<TimeSpan> contentComplete, CancellationTokenSource deadline)
    {
        await Task.WhenAny(contentComplete, Task.Delay(Timeout.Infinite, deadline.Token));
        if (contentComplete.IsCompletedSuccessfully && !deadline.IsCancellationRequested)
        {
            deadline.CancelAfter(contentComplete.Result);
        }
    }

    /// <summary>Puts a delivery whose attempt failed with <paramref name="ex"/> back with the backoff its failure
    /// calls for (a refusal or a conflict: the longest), and logs why. Bookkeeping is not cut short by the client
    /// leaving: the lease would only delay the retry.</summary>
    public async Task DeferAsync(DeliveryItem item, Exception ex, string error)
    {
        var rejected = ResponseStorage.IsRejection(ex);
        var delay = ex is StorageConflictException || rejected
            ? TimeSpan.FromSeconds(options.Value.RetryMaxDelaySeconds)
            : options.Value.RetryDelay(item.Attempts);
        if (ex is StorageConflictException)
        {
            LogConflict(logger, item.ResponseId, item.ObjectName);
        }
        else if (rejected)
        {
            LogRejected(logger, item.ResponseId, item.Attempts, error, delay.TotalSeconds);
            await deliveries.RejectAsync(item.ResponseId, delay, error, CancellationToken.None);
            return;
        }
        else
        {
            LogNotDelivered(logger, item.ResponseId, item.Attempts, error, delay.TotalSeconds);
        }

        await deliveries.RescheduleAsync(item.ResponseId, delay, error, CancellationToken.None);
    }

    private static void MarkFailed(Activity? activity, Exception ex, string error, string outcome)
    {
        activity?.SetTag(StorageTelemetry.OutcomeTag, outcome);
        activity?.SetTag(StorageTelemetry.ErrorTypeTag, ex.GetType().FullName);
        activity?.SetStatus(ActivityStatusCode.Error, error);
    }

    private static string Describe(Exception ex, TimeSpan timeout) =>
        ex is OperationCanceledException ? $"no answer from storage within {timeout.TotalSeconds:0.#} s" : Describe(ex);

    /// <summary>The exception's kind and status, not its message (which could echo a URL or a header).</summary>
    private static string Describe(Exception ex) => ex switch
    {
        Google.GoogleApiException api => $"storage answered {(int)api.HttpStatusCode} {api.HttpStatusCode}",
        HttpRequestException { HttpRequestError: var kind } => $"storage unreachable ({kind})",
        BrokenCircuitException => "storage was unavailable moments ago; not tried",
        _ => ex.GetType().Name,
    };

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Upload of response {ResponseId} not delivered (attempt {Attempt}): {Error}; kept, next try in {DelaySeconds:0.#} s")]
    private static partial void LogNotDelivered(ILogger logger, Guid responseId, int attempt, string error, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Upload of response {ResponseId} refused by storage (attempt {Attempt}): {Error}; kept, next try in {DelaySeconds:0} s")]
    private static partial void LogRejected(ILogger logger, Guid responseId, int attempt, string error, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Upload of response {ResponseId} not delivered: {ObjectName} already exists in storage with other content; kept pending")]
    private static partial void LogConflict(ILogger logger, Guid responseId, string objectName);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Upload of response {ResponseId} delivered to storage (attempt {Attempt})")]
    private static partial void LogDelivered(ILogger logger, Guid responseId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Response {ResponseId} was erased (a withdrawal) while its upload ran; deleting its object failed: {Error}")]
    private static partial void LogErasedLeft(ILogger logger, Guid responseId, string error);
}

/// <summary>What the first attempt of an upload without a row did: <see cref="Stored"/> the object (its MD5 checked
/// by storage), found its name taken, or failed (<see cref="Failure"/>, described without secrets in
/// <see cref="Error"/>).</summary>
public sealed record NewObjectAttempt(Google.Apis.Storage.v1.Data.Object? Stored, bool NameTaken, Exception? Failure, string? Error);
