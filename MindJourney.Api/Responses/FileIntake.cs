using System.Text;
using Microsoft.Extensions.Options;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace MindJourney.Api.Responses;

/// <summary>
/// Records a file answer while storage is configured: storage first, then the row. The bytes go from the spool to
/// storage under their final name (the database holds no copy of them), then one short statement checks and bumps the
/// session's counters and inserts the row as <c>stored</c>. Only when storage fails, refuses or misses the deadline is
/// the durable copy taken in PostgreSQL (the outbox), and the answer says <c>pending</c>. An API killed in between
/// leaves at most an object without a row, which no client was told about (docs/ARCHITECTURE.md, uploads).
/// </summary>
public sealed partial class FileIntake(
    ResponseRecorder recorder,
    ResponseStorage storage,
    UploadDeliverer deliverer,
    StorageTelemetry telemetry,
    IOptions<StorageOptions> options,
    ILogger<FileIntake> logger)
{
    /// <summary>Names one upload may find taken before it gives up (each is the next millisecond).</summary>
    private const int MaxNameAttempts = 20;

    /// <summary>The recorded response (stored, or pending with its durable copy), or null when the session does not
    /// exist (nothing recorded, nothing left in storage). Throws <see cref="SessionQuotaExceededException"/> when the
    /// session has no room for it. <paramref name="reservation"/> is kept on success; its pending share is given back
    /// when the file went to storage.</summary>
    public async Task<ResponseDetails?> RecordAsync(Guid sessionId, string levelId, string questionId, string responseType,
        string responseDataJson, UploadContent file, UploadReservation reservation, CancellationToken cancellationToken)
    {
        var size = file.Length + Encoding.UTF8.GetByteCount(responseDataJson);
        // A full session is refused before its bytes travel; a parallel answer that takes the room meanwhile is
        // caught by the insert, which then deletes the object.
        if (await recorder.CheckRoomAsync(sessionId, responseType, size, cancellationToken) is not { } owner)
        {
            return null;
        }

        var responseId = Guid.CreateVersion7();
        var uploadedAt = DateTimeOffset.UtcNow;
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
            var tried = await deliverer.StoreNewAsync(item, file.OpenRead, timeout, CancellationToken.None);
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

            StoredRecord recorded;
            try
            {
                recorded = await recorder.RecordStoredAsync(responseId, sessionId, levelId, questionId, responseType,
                    responseDataJson, item.ObjectName, file, owner.VisitorNumber, CancellationToken.None);
            }
            catch (SessionQuotaExceededException)
            {
                await DiscardAsync(stored, "the session's quota refused it after the upload");
                throw;
            }

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
            if (await recorder.Md5OfAsync(item.ObjectName, CancellationToken.None) != file.Md5Hash)
            {
                await DiscardAsync(stored, "a pending upload holds its name");
            }

            uploadedAt = uploadedAt.AddMilliseconds(1);
        }

        // Storage did not take it: the durable copy, under the name tried last (if storage kept the object after all,
        // the delivery finds it there with the same bytes and counts it).
        var pending = await recorder.RecordWithContentAsync(new PlannedUpload(responseId, sessionId, uploadedAt), levelId,
            questionId, responseType, responseDataJson, file, TimeSpan.Zero, cancellationToken);
        if (pending is null)
        {
            return null;
        }

        telemetry.RecordUpload(responseType, StorageTelemetry.OutcomeQueued);
        await deliverer.DeferAsync(pending.Delivery, failed!.Failure!, failed.Error!);
        return ResponseDetails.From(pending.Response);
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

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Object {ObjectName} left in storage without a response ({Why}); deleting it failed: {Error}")]
    private static partial void LogOrphan(ILogger logger, string objectName, string why, string error);
}
