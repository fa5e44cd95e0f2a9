using System.Text;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using MindJourney.Api.Withdrawal;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace MindJourney.Api.Responses;

/// <summary>
/// Records a file answer while storage is configured: storage first, then the row. The bytes go to storage under
/// their final name as they arrive, or from the spool (the database holds no copy of them), then one short statement
/// checks and bumps the session's counters and inserts the row as <c>stored</c>. Only when storage fails, refuses or
/// misses the deadline is the durable copy taken in PostgreSQL (the outbox), and the answer says <c>pending</c>. An API
/// killed in between leaves at most an object without a row, which no client was told about (Storage/README.md).
/// Each of its database steps waits at most <see cref="DatabaseDeadline"/> (then 503, the step going on without the
/// request, its retry with the Idempotency-Key finding what it stored); storage's part has its own timeouts.
/// </summary>
public sealed partial class FileIntake(
    ResponseRecorder recorder,
    ResponseStorage storage,
    UploadDeliverer deliverer,
    StorageTelemetry telemetry,
    DatabaseDeadline deadline,
    ResponsesTelemetry responsesTelemetry,
    IOptions<StorageOptions> options,
    ILogger<FileIntake> logger)
{
    /// <summary>Names one upload may find taken before it gives up (each is the next millisecond).</summary>
    private const int MaxNameAttempts = 20;

    /// <summary>Starts the upload to storage while the file still arrives, following its spool
    /// (<see cref="EarlyUpload.Tap"/>): for a file whose session and type came before its bytes. Storage sees the file's
    /// end only once <see cref="RecordAsync"/> accepts it; disposing the result unaccepted leaves nothing there.
    /// <paramref name="bodyBytesLeft"/>: what the request's body has left, which the file most likely nearly fills.</summary>
    public EarlyUpload Begin(Guid sessionId, string responseType, string contentType, string? clientFileName, long? bodyBytesLeft = null)
    {
        var early = new EarlyUpload(new SpoolTap(SpoolTap.FirstChunkFor(bodyBytesLeft)), Guid.CreateVersion7(), DateTimeOffset.UtcNow);
        early.Attempt = StartEarlyAsync(early, sessionId, responseType, contentType, clientFileName);
        return early;
    }

    private async Task<NewObjectAttempt?> StartEarlyAsync(EarlyUpload early, Guid sessionId, string responseType, string contentType,
        string? clientFileName)
    {
        await Task.Yield(); // the caller goes on reading the body
        UploadOwner? owner;
        try
        {
            // No longer than the deadline: the request refuses itself by its own lookup, and must not wait for this one.
            owner = await recorder.CheckRoomAsync(sessionId, responseType, 0, CancellationToken.None).WaitAsync(deadline.Limit);
        }
        catch (Exception ex) when (ex is SessionQuotaExceededException or PersonWithdrawnException)
        {
            return null; // the request refuses it once the body is read
        }

        if (owner is null)
        {
            return null;
        }

        // Size and MD5 are known at the end only: storage's MD5 is compared with the spool's before the row.
        early.Item = new DeliveryItem(early.ResponseId,
            ObjectNames.For(sessionId, responseType, early.UploadedAt, ObjectNames.SanitiseFileName(clientFileName)), contentType,
            SizeBytes: 0, Md5Hash: "", ObjectNames.OriginalName(clientFileName), early.UploadedAt, Attempts: 1, sessionId,
            owner.UserId, owner.ExperimentId, owner.VisitorNumber, responseType);
        return await deliverer.StoreNewAsync(early.Item, early.Tap.OpenReader, options.Value.UploadTimeout, CancellationToken.None,
            early.Deadline.Task);
    }

    /// <summary>Lets the early upload end and waits for it: null when none was made (its session could not be read).
    /// An object whose bytes are not the spool's is deleted and reported as a failure.</summary>
    private async Task<NewObjectAttempt?> FinishEarlyAsync(EarlyUpload early, UploadContent file)
    {
        // From here it has what a delivery of its size gets, as if it had started now.
        early.Deadline.TrySetResult(options.Value.AttemptTimeout(file.Length));
        early.Tap.Finish();
        NewObjectAttempt? tried;
        try
        {
            tried = await early.Attempt;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            return null; // its session could not be read: nothing was uploaded, the usual attempt follows
        }

        if (tried?.Stored is { } stored && (stored.Md5Hash != file.Md5Hash || stored.Size != (ulong)file.Length))
        {
            await DiscardAsync(stored, "storage kept other bytes than were sent");
            var mismatch = new IOException("Storage kept other bytes than were sent.");
            return new NewObjectAttempt(null, NameTaken: false, mismatch, mismatch.Message);
        }

        return tried;
    }

    /// <summary>The recorded response (stored, or pending with its durable copy), or null when the session does not
    /// exist (nothing recorded, nothing left in storage). Throws <see cref="SessionQuotaExceededException"/> when the
    /// session has no room for it. <paramref name="reservation"/> is kept on success; its pending share is given back
    /// when the file went to storage. <paramref name="early"/>: the upload begun as the file arrived, if any.</summary>
    public async Task<ResponseDetails?> RecordAsync(Guid sessionId, string levelId, string questionId, string responseType,
        string responseDataJson, UploadContent file, EarlyUpload? early, UploadReservation reservation, string? idempotencyKey,
        byte[]? fingerprint, CancellationToken cancellationToken)
    {
        var size = file.Length + Encoding.UTF8.GetByteCount(responseDataJson);
        // A full session is refused before its bytes travel; a parallel answer that takes the room meanwhile is
        // caught by the insert, which then deletes the object.
        if (await BoundedAsync(token => recorder.CheckRoomAsync(sessionId, responseType, size, token), cancellationToken)
            is not { } owner)
        {
            return null;
        }

        var responseId = early?.ResponseId ?? Guid.CreateVersion7();
        var uploadedAt = early?.UploadedAt ?? DateTimeOffset.UtcNow;
        // The time a delivery of this size gets: a big file on a storage that is merely not fast keeps going to storage,
        // instead of putting all its bytes through the database's WAL.
        var timeout = options.Value.AttemptTimeout(file.Length);
        NewObjectAttempt? failed = null;
        for (var attempt = 1; failed is null; attempt++)
        {
            if (attempt > MaxNameAttempts)
            {
                throw new InvalidOperationException($"No free object name for response {responseId}.");
            }

            var item = new DeliveryItem(responseId, ObjectNames.For(sessionId, responseType, uploadedAt, file.FileName),
                file.ContentType, file.Length, file.Md5Hash, file.OriginalName, uploadedAt, Attempts: 1, sessionId,
                owner.UserId, owner.ExperimentId, owner.VisitorNumber, responseType);
            // Not the request's token from here: a client that leaves must not cut the upload between object and row.
            var tried = attempt == 1 && early is not null && await FinishEarlyAsync(early, file) is { } followed
                ? followed
                : await deliverer.StoreNewAsync(item, file.OpenRead, timeout, CancellationToken.None);
            if (attempt == 1 && early?.Item is { } earlyItem && tried.Failure is not SpoolAbandonedException)
            {
                item = item with { ObjectName = earlyItem.ObjectName, VisitorNumber = earlyItem.VisitorNumber };
            }

            if (tried.NameTaken)
            {
                uploadedAt = uploadedAt.AddMilliseconds(1);
                continue;
            }

            if (tried.Stored is not { } stored)
            {
                failed = tried;
                break;
            }

            // The row, with what its refusal leaves to discard: done to its end even when the request stops waiting.
            var named = item;
            var recorded = await BoundedAsync(_ => RecordRowAsync(responseId, sessionId, levelId, questionId, responseType,
                responseDataJson, named, stored, file, idempotencyKey, fingerprint), cancellationToken);

            if (recorded.Response is { } created)
            {
                reservation.ReleasePending();
                telemetry.RecordUpload(responseType, StorageTelemetry.OutcomeStored);
                return created;
            }

            if (!recorded.NameTaken)
            {
                await DiscardAsync(stored, "its session is gone");
                return null;
            }

            // A pending upload holds this name and will deliver to it. Other bytes it would never take for its own
            // (a conflict): ours must go. The same bytes it may already count as delivered: they stay.
            var held = item.ObjectName;
            if (await BoundedAsync(_ => recorder.Md5OfAsync(held, CancellationToken.None), cancellationToken) != file.Md5Hash)
            {
                await DiscardAsync(stored, "a pending upload holds its name");
            }

            uploadedAt = uploadedAt.AddMilliseconds(1);
        }

        // Storage did not take it: the durable copy, under the name tried last (if storage kept the object after all,
        // the delivery finds it there with the same bytes and counts it).
        RecordedUpload? pending;
        try
        {
            pending = await BoundedAsync(token => recorder.RecordWithContentAsync(new PlannedUpload(responseId, sessionId, uploadedAt),
                levelId, questionId, responseType, responseDataJson, file, TimeSpan.Zero, idempotencyKey, fingerprint, token),
                cancellationToken);
        }
        catch (PersonWithdrawnException)
        {
            // Storage may have kept the failed attempt's object after all.
            await DiscardNamedAsync(ObjectNames.For(sessionId, responseType, uploadedAt, file.FileName), "its person withdrew");
            throw;
        }

        if (pending is null)
        {
            return null;
        }

        telemetry.RecordUpload(responseType, StorageTelemetry.OutcomeQueued);
        try
        {
            await deliverer.DeferAsync(pending.Delivery, failed!.Failure!, failed.Error!).WaitAsync(deadline.Limit);
        }
        catch (TimeoutException)
        {
            // The answer and its copy are committed, and the workers take the delivery as it is: only its delay is late.
        }

        return ResponseDetails.From(pending.Response);
    }

    /// <summary>A database step of the upload, waited for at most the deadline.</summary>
    private Task<T> BoundedAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        deadline.RunAsync(work, responsesTelemetry.DeadlinesPassed, "An upload", cancellationToken);

    /// <summary>The row of a file storage took; an object no row will name is deleted.</summary>
    private async Task<StoredRecord> RecordRowAsync(Guid responseId, Guid sessionId, string levelId, string questionId,
        string responseType, string responseDataJson, DeliveryItem item, StorageObject stored, UploadContent file,
        string? idempotencyKey, byte[]? fingerprint)
    {
        try
        {
            return await recorder.RecordStoredAsync(responseId, sessionId, levelId, questionId, responseType,
                responseDataJson, item.ObjectName, file, item.VisitorNumber, idempotencyKey, fingerprint, CancellationToken.None);
        }
        catch (SessionQuotaExceededException)
        {
            await DiscardAsync(stored, "the session's quota refused it after the upload");
            throw;
        }
        catch (PersonWithdrawnException)
        {
            // The person withdrew while the file travelled: the withdrawal's own sweep may have run before it landed.
            await DiscardAsync(stored, "its person withdrew during the upload");
            throw;
        }
        catch (Npgsql.PostgresException ex) when (ex.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation
            && ex.ConstraintName == Data.MindJourneyDbContext.AnswerKeyIndex)
        {
            // Another instance recorded this Idempotency-Key's answer meanwhile: the caller replays it; this copy goes.
            await DiscardAsync(stored, "another request recorded its Idempotency-Key first");
            throw;
        }
    }

    /// <summary>Deletes an object this request wrote and no row will name; one left behind is an orphan (no row, no
    /// download, never exported), logged.</summary>
    private async Task DiscardAsync(StorageObject stored, string why)
    {
        try
        {
            await storage.DeleteAsync(stored, CancellationToken.None);
        }
        catch (Exception ex) when (ResponseStorage.IsUnavailable(ex))
        {
            LogOrphan(logger, stored.Name, why, ex.GetType().Name);
        }
    }

    private async Task DiscardNamedAsync(string objectName, string why)
    {
        try
        {
            await storage.DeleteIfThereAsync(objectName, CancellationToken.None);
        }
        catch (Exception ex) when (ResponseStorage.IsUnavailable(ex))
        {
            LogOrphan(logger, objectName, why, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Object {ObjectName} left in storage without a response ({Why}); deleting it failed: {Error}")]
    private static partial void LogOrphan(ILogger logger, string objectName, string why, string error);
}

/// <summary>A file's upload to storage started while the file still arrives (<see cref="FileIntake.Begin"/>): its
/// response id and time (hence its object name) are chosen when it starts.</summary>
public sealed class EarlyUpload(SpoolTap tap, Guid responseId, DateTimeOffset uploadedAt) : IAsyncDisposable
{
    public SpoolTap Tap { get; } = tap;

    public Guid ResponseId { get; } = responseId;

    public DateTimeOffset UploadedAt { get; } = uploadedAt;

    /// <summary>What it uploads to, once its session was read.</summary>
    internal DeliveryItem? Item { get; set; }

    internal Task<NewObjectAttempt?> Attempt { get; set; } = Task.FromResult<NewObjectAttempt?>(null);

    /// <summary>Set once the file has all arrived: the deadline of the rest of the upload.</summary>
    internal TaskCompletionSource<TimeSpan> Deadline { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Unaccepted (a refusal, a broken body): stops it before storage sees the end, and waits for that.</summary>
    public async ValueTask DisposeAsync()
    {
        Tap.Abort();
        Deadline.TrySetCanceled();
        try
        {
            await Attempt;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
        {
            // The session could not be read: nothing was uploaded.
        }
    }
}
