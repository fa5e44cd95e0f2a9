using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;

namespace MindJourney.StorageEmulator;

/// <summary>
/// Resumable upload sessions (GCS protocol): POST uploadType=resumable answers 200 with a session URI in
/// <c>Location</c>; each PUT carries <c>Content-Range: bytes a-b/total</c> (<c>*</c> while the total is unknown) and
/// is answered 308 with <c>Range: bytes=0-last</c> (no Range when nothing has arrived) until the last byte, then 200
/// with the object. <c>Content-Range: bytes */N</c> (or <c>*/*</c>) with no body asks for the status.
/// A chunk that starts before the persisted end has its overlap skipped; one that starts after it is answered 308
/// with the persisted range, so the client resends from there.
/// </summary>
internal sealed class ResumableUploads(ObjectStore store, ILogger<ResumableUploads> log, TimeProvider time) : IDisposable
{
    private static readonly TimeSpan CompletedRetention = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan IdleLimit = TimeSpan.FromDays(7);
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    private sealed class Session(string id, ObjectDraft draft, Preconditions preconditions, long? declaredLength)
    {
        public string Id { get; } = id;
        public ObjectDraft Draft { get; } = draft;
        public Preconditions Preconditions { get; } = preconditions;
        public long? DeclaredLength { get; } = declaredLength;
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public StagingBlob? Staging { get; set; }
        public StoredObject? Result { get; set; }
        public int Requests { get; set; }
        public DateTimeOffset Touched { get; set; }
        public long Received => Staging?.Length ?? 0;
    }

    public async Task<IResult> StartAsync(HttpContext context, string bucket)
    {
        Sweep();
        var request = context.Request;
        var body = await Json.ReadObjectAsync(request, context.RequestAborted);
        var draft = GcsUploads.Draft(request, bucket, body);
        if (draft.ContentType is null && request.Headers["X-Upload-Content-Type"].ToString() is { Length: > 0 } uploadType)
        {
            draft = draft with { ContentType = uploadType };
        }

        long? declared = null;
        if (request.Headers["X-Upload-Content-Length"].ToString() is { Length: > 0 } lengthText)
        {
            declared = long.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out var l) && l >= 0
                ? l
                : throw GcsException.BadRequest($"Invalid X-Upload-Content-Length: {lengthText}");
        }

        var pre = Preconditions.From(request.Query);
        pre.CheckWrite(store.TryGet(bucket, draft.Name)); // checked again at finalize

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _sessions[id] = new Session(id, draft, pre, declared) { Touched = time.GetUtcNow() };
        var location = $"{Json.BaseUrl(request)}/upload/storage/v1/b/{bucket}/o?uploadType=resumable" +
            $"&name={Uri.EscapeDataString(draft.Name)}&upload_id={id}";
        context.Response.Headers.Location = location;
        context.Response.Headers["X-GUploader-UploadID"] = id;
        return Results.Ok();
    }

    public IResult Cancel(string uploadId)
    {
        if (!_sessions.TryRemove(uploadId, out var session))
        {
            throw NoSuchSession();
        }

        session.Staging?.Dispose();
        log.LogDebug(
            "Cancelled resumable upload {UploadId} for gs://{Bucket}/{Name}", uploadId, session.Draft.Bucket, session.Draft.Name);
        return Results.StatusCode(499); // what GCS answers to a cancelled session
    }

    public async Task<IResult> PutChunkAsync(HttpContext context, string uploadId)
    {
        if (!_sessions.TryGetValue(uploadId, out var session))
        {
            throw NoSuchSession();
        }

        var request = context.Request;
        await session.Gate.WaitAsync(context.RequestAborted);
        try
        {
            session.Touched = time.GetUtcNow();
            if (session.Result is { } done)
            {
                return Json.Ok(Json.ObjectResource(done, Json.BaseUrl(request)));
            }

            if (!_sessions.ContainsKey(uploadId))
            {
                throw NoSuchSession(); // cancelled or failed while we waited
            }

            session.Requests++;
            var range = ContentRange.Parse(request.Headers.ContentRange.ToString());
            if (range.Total is { } declaredTotal && session.DeclaredLength is { } declared && declared != declaredTotal)
            {
                throw GcsException.BadRequest(
                    $"The upload's total size {declaredTotal} differs from X-Upload-Content-Length {declared}.");
            }

            var received = session.Received;
            if (range.HasBytes)
            {
                if (range.First > received)
                {
                    // A gap: tell the client what we really have, so that it resends from there.
                    return Incomplete(context, received);
                }

                session.Staging ??= store.CreateStaging();
                await session.Staging.AppendAsync(request.Body, received - range.First, context.RequestAborted);
                received = session.Received;
            }

            var total = range.Total ?? (range.IsWholeBody ? received : null);
            if (total is { } t)
            {
                if (received > t)
                {
                    Fail(session);
                    throw GcsException.BadRequest($"Invalid request. The upload has {received} bytes, more than its declared size {t}.");
                }

                if (received == t)
                {
                    return Finalize(context, session);
                }
            }

            return Incomplete(context, received);
        }
        finally
        {
            session.Gate.Release();
        }
    }

    private IResult Finalize(HttpContext context, Session session)
    {
        var request = context.Request;
        var (crc, md5) = GcsUploads.ParseHashHeader(request);
        var draft = session.Draft with
        {
            ExpectedCrc32c = session.Draft.ExpectedCrc32c ?? crc,
            ExpectedMd5 = session.Draft.ExpectedMd5 ?? md5,
        };
        session.Staging ??= store.CreateStaging(); // empty object
        try
        {
            var via = $"resumable upload ({session.Requests} request{(session.Requests == 1 ? "" : "s")})";
            session.Result = store.Commit(draft, session.Staging, session.Preconditions, via);
        }
        catch (GcsException)
        {
            Fail(session);
            throw;
        }

        session.Staging.Dispose();
        session.Staging = null;
        return Json.Ok(Json.ObjectResource(session.Result, Json.BaseUrl(request)));
    }

    private static IResult Incomplete(HttpContext context, long received)
    {
        if (received > 0)
        {
            context.Response.Headers.Range = $"bytes=0-{received - 1}";
        }

        return Results.StatusCode(308);
    }

    private void Fail(Session session)
    {
        _sessions.TryRemove(session.Id, out _);
        session.Staging?.Dispose();
        session.Staging = null;
    }

    private static GcsException NoSuchSession() =>
        new(StatusCodes.Status404NotFound, "notFound", "No such upload session (unknown, cancelled or failed upload_id).");

    /// <summary>Forgets finished sessions after a while, and abandoned ones after a week (as GCS does).</summary>
    private void Sweep()
    {
        var now = time.GetUtcNow();
        foreach (var (id, session) in _sessions)
        {
            var age = now - session.Touched;
            if (((session.Result is not null && age > CompletedRetention) || age > IdleLimit) && session.Gate.Wait(0))
            {
                // Only sessions no request is using right now.
                if (_sessions.TryRemove(id, out _))
                {
                    session.Staging?.Dispose();
                    session.Staging = null;
                }

                session.Gate.Release();
            }
        }
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values)
        {
            session.Staging?.Dispose();
        }

        _sessions.Clear();
    }
}

/// <summary>A request's <c>Content-Range</c>: <c>bytes a-b/total</c>, <c>bytes a-b/*</c>, <c>bytes */total</c>,
/// <c>bytes */*</c>, or none.</summary>
internal readonly record struct ContentRange(bool HasBytes, long First, long Last, long? Total, bool IsWholeBody)
{
    public static ContentRange Parse(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            // No Content-Range: the body is the whole (rest of the) object, in one request.
            return new ContentRange(true, 0, -1, null, IsWholeBody: true);
        }

        var text = header.Trim();
        if (!text.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid(header);
        }

        var spec = text["bytes ".Length..].Trim();
        var slash = spec.IndexOf('/');
        if (slash < 0)
        {
            throw Invalid(header);
        }

        var rangePart = spec[..slash];
        var totalPart = spec[(slash + 1)..];
        long? total = totalPart == "*" ? null : ParseNumber(totalPart, header);
        if (rangePart == "*")
        {
            return new ContentRange(false, 0, -1, total, false);
        }

        var dash = rangePart.IndexOf('-');
        if (dash <= 0)
        {
            throw Invalid(header);
        }

        var first = ParseNumber(rangePart[..dash], header);
        var last = ParseNumber(rangePart[(dash + 1)..], header);
        if (last < first || (total is { } t && last >= t))
        {
            throw Invalid(header);
        }

        return new ContentRange(true, first, last, total, false);
    }

    private static long ParseNumber(string text, string header) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : throw Invalid(header);

    private static GcsException Invalid(string header) => GcsException.BadRequest($"Invalid Content-Range: {header}");
}
