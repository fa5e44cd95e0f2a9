using System.Net;
using System.Net.Http.Headers;
using Google;
using Google.Cloud.Storage.V1;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace MindJourney.Api.Storage;

/// <summary>The object already exists with other bytes: never overwritten, the delivery stays pending.</summary>
public sealed class StorageConflictException(string message) : Exception(message);

/// <summary>
/// The bucket responses are stored in (Firebase Storage, a GCS bucket), through one <see cref="StorageClient"/> for
/// the whole process, or nothing when no storage is configured. Every write is conditional
/// (<c>ifGenerationMatch=0</c>): an upload repeated after a lost answer finds its own object and counts as delivered,
/// and nothing is ever overwritten.
/// </summary>
public sealed partial class ResponseStorage(StorageTarget target, IConfiguration configuration, ILogger<ResponseStorage> logger)
    : IDisposable
{
    private readonly StorageClient? _client = StorageClientFactory.Create(target, configuration);

    public StorageTarget Target { get; } = target;

    public bool IsConfigured => _client is not null;

    private StorageClient Client => _client ?? throw new InvalidOperationException("No storage is configured.");

    private string Bucket => Target.Bucket!;

    /// <summary>Creates the object unless it exists; an existing object with the same bytes (an earlier attempt
    /// whose answer was lost) counts as this upload. Throws <see cref="StorageConflictException"/> when other
    /// bytes are there, and the client's exceptions when storage cannot be reached.</summary>
    internal async Task<StorageObject> UploadAsync(DeliveryItem item, Stream content, CancellationToken cancellationToken)
    {
        var destination = new StorageObject
        {
            Bucket = Bucket,
            Name = item.ObjectName,
            ContentType = item.ContentType,
            Metadata = item.Metadata(),
        };
        try
        {
            return await Client.UploadObjectAsync(
                destination, content, new UploadObjectOptions { IfGenerationMatch = 0 }, cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.PreconditionFailed)
        {
            return await ExistingAsThisUploadAsync(item, cancellationToken);
        }
    }

    /// <summary><see cref="UploadAsync"/> for a small object held in memory (an answer's text), in one request: the
    /// JSON API's multipart upload (the object's resource, then its bytes), where the client's own upload takes two
    /// (a resumable session, then its bytes). Storage checks <see cref="DeliveryItem.Md5Hash"/> (400 when the bytes
    /// differ). Sent through the client's own HTTP client (its credentials, its retries), and its failures surface
    /// as the client's do: <see cref="GoogleApiException"/> with the status, or the transport's exception.</summary>
    internal async Task<StorageObject> UploadInOneRequestAsync(DeliveryItem item, byte[] content, CancellationToken cancellationToken)
    {
        try
        {
            return await InsertMultipartAsync(item, content, cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.PreconditionFailed)
        {
            return await ExistingAsThisUploadAsync(item, cancellationToken);
        }
    }

    /// <summary>POST {upload root}/b/{bucket}/o?uploadType=multipart&amp;ifGenerationMatch=0, a multipart/related body
    /// (https://cloud.google.com/storage/docs/uploading-objects, "multipart upload"). The URI is built as the client
    /// library builds its uploads': <c>/upload/</c> + the service's base path, from the root of its base URI.</summary>
    private async Task<StorageObject> InsertMultipartAsync(DeliveryItem item, byte[] content, CancellationToken cancellationToken)
    {
        var service = Client.Service;
        var resource = new StorageObject
        {
            Name = item.ObjectName,
            ContentType = item.ContentType,
            Md5Hash = item.Md5Hash,
            Metadata = item.Metadata(),
        };
        var uri = new Uri(new Uri(service.BaseUri),
            $"/upload/{service.BasePath}b/{Uri.EscapeDataString(Bucket)}/o?uploadType=multipart&ifGenerationMatch=0");
        using var body = new MultipartContent("related")
        {
            new StringContent(service.Serializer.Serialize(resource), System.Text.Encoding.UTF8, "application/json"),
            new ByteArrayContent(content) { Headers = { ContentType = MediaTypeHeaderValue.Parse(item.ContentType) } },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = body };
        using var response = await service.HttpClient.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // As the library's own requests fail: the error storage described, or the status alone.
            var error = await service.DeserializeError(response);
            throw new GoogleApiException(service.Name, error?.Message ?? $"{(int)response.StatusCode} {response.StatusCode}")
            {
                Error = error,
                HttpStatusCode = response.StatusCode,
            };
        }

        return await service.DeserializeResponse<StorageObject>(response);
    }

    /// <summary>The object a conditional write found in place: this upload's when it holds the same bytes (an earlier
    /// attempt whose answer was lost), else <see cref="StorageConflictException"/>.</summary>
    private async Task<StorageObject> ExistingAsThisUploadAsync(DeliveryItem item, CancellationToken cancellationToken)
    {
        var existing = await Client.GetObjectAsync(Bucket, item.ObjectName, cancellationToken: cancellationToken);
        if (existing.Md5Hash == item.Md5Hash && existing.Size == (ulong)item.SizeBytes)
        {
            LogAlreadyThere(logger, item.ResponseId);
            return existing;
        }

        throw new StorageConflictException("The object already exists in storage with other content.");
    }

    /// <summary>Chunk size of an upload that follows its spool (a multiple of 256 KiB, as the protocol asks).</summary>
    private const int FollowingChunkBytes = 4 * 1024 * 1024;

    /// <summary>Creates the object of an upload that has no row yet, under a name nobody may hold: null when the name
    /// is taken (by another upload, or an object an API killed before its row left), and the caller takes the next
    /// one; an existing object is never counted as this upload, whatever its bytes. Storage checks the bytes against
    /// <see cref="DeliveryItem.Md5Hash"/> and refuses (400) an upload that arrived otherwise; an empty hash (an upload
    /// that follows its spool) leaves the check to the caller.</summary>
    internal async Task<StorageObject?> CreateNewAsync(DeliveryItem item, Stream content, CancellationToken cancellationToken)
    {
        var destination = new StorageObject
        {
            Bucket = Bucket,
            Name = item.ObjectName,
            ContentType = item.ContentType,
            Md5Hash = item.Md5Hash.Length > 0 ? item.Md5Hash : null, // unknown while the client still sends: checked after
            Metadata = item.Metadata(),
        };
        if (content is SpoolTap.Reader { Tap.FirstChunkBytes: > 0 } following)
        {
            // Nearly all of it streamed as it arrives: only the last few bytes and the object's creation follow its end.
            return await CreateFollowingAsync(destination, following, cancellationToken);
        }

        StorageObject stored;
        try
        {
            // Storage checks the md5Hash sent with the metadata; the client's own hashing pass (its default) would
            // read every byte once more for a check storage makes anyway, and cost as much as the transfer.
            stored = await Client.UploadObjectAsync(destination, content, new UploadObjectOptions
            {
                IfGenerationMatch = 0,
                UploadValidationMode = UploadValidationMode.None,
                // Content still arriving is sent a chunk at a time as it comes: smaller chunks leave less to send after
                // its end (the client holds one chunk in memory).
                ChunkSize = content.CanSeek ? null : FollowingChunkBytes,
            }, cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.PreconditionFailed)
        {
            return null;
        }

        if (item.Md5Hash.Length > 0 && (stored.Md5Hash != item.Md5Hash || stored.Size != (ulong)item.SizeBytes))
        {
            // A storage that did not check: what it holds is not what was sent, and nobody may count it as stored.
            await DeleteAsync(stored, CancellationToken.None);
            throw new IOException("Storage kept other bytes than were sent.");
        }

        return stored;
    }

    /// <summary>Deletes this generation of the object, and only it: a later write under the same name stays.</summary>
    internal Task DeleteAsync(StorageObject storageObject, CancellationToken cancellationToken) =>
        Client.DeleteObjectAsync(Bucket, storageObject.Name,
            new DeleteObjectOptions { Generation = storageObject.Generation }, cancellationToken);

    /// <summary>The names of the objects under <paramref name="prefix"/> (none when the bucket does not exist yet).</summary>
    internal async Task<List<string>> ListNamesAsync(string prefix, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        try
        {
            await foreach (var item in Client.ListObjectsAsync(Bucket, prefix).WithCancellation(cancellationToken))
            {
                names.Add(item.Name);
            }
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
        {
            // No bucket, no objects.
        }

        return names;
    }

    /// <summary>The objects under <paramref name="prefix"/>, a page of storage's listing at a time, each with its
    /// generation and creation time (none when the bucket does not exist yet).</summary>
    internal async IAsyncEnumerable<IReadOnlyList<StorageObject>> ListPagesAsync(string prefix, int pageSize,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pages = Client.ListObjectsAsync(Bucket, prefix, new ListObjectsOptions { PageSize = pageSize }).AsRawResponses();
        await using var enumerator = pages.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await enumerator.MoveNextAsync())
                {
                    yield break;
                }
            }
            catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
            {
                yield break; // no bucket, no objects
            }

            if (enumerator.Current.Items is { Count: > 0 } items)
            {
                yield return [.. items];
            }
        }
    }

    /// <summary>Deletes the object whatever its generation; one already gone is fine.</summary>
    internal async Task DeleteIfThereAsync(string objectName, CancellationToken cancellationToken)
    {
        try
        {
            await Client.DeleteObjectAsync(Bucket, objectName, cancellationToken: cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
        {
            // Already gone.
        }
    }

    /// <summary>The object's current description, or null when it is not in storage.</summary>
    internal async Task<StorageObject?> FindAsync(string objectName, CancellationToken cancellationToken)
    {
        try
        {
            return await Client.GetObjectAsync(Bucket, objectName, cancellationToken: cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    internal Task DownloadAsync(StorageObject storageObject, Stream destination, CancellationToken cancellationToken) =>
        Client.DownloadObjectAsync(storageObject, destination, cancellationToken: cancellationToken);

    /// <summary>Sets the object's <c>visitorNumber</c> metadata; PATCH merges custom metadata, so only this key
    /// changes.</summary>
    internal Task PatchVisitorNumberAsync(string objectName, int? visitorNumber, CancellationToken cancellationToken) =>
        Client.PatchObjectAsync(new StorageObject
        {
            Bucket = Bucket,
            Name = objectName,
            Metadata = new Dictionary<string, string> { [DeliveryItem.VisitorNumberKey] = DeliveryItem.VisitorNumberText(visitorNumber) },
        }, cancellationToken: cancellationToken);

    /// <summary>Reachable and answering for the bucket: a missing object is a fine answer.</summary>
    internal async Task ProbeAsync(CancellationToken cancellationToken)
    {
        _ = await FindAsync(".mindjourney-health-probe", cancellationToken);
    }

    /// <summary>Storage is down, slow or refusing for now (as opposed to a bug or a conflict).</summary>
    internal static bool IsUnavailable(Exception ex) => ex is HttpRequestException or IOException or TimeoutException
        or OperationCanceledException or GoogleApiException or System.Net.Sockets.SocketException;

    /// <summary>Storage refused this request for what it is (400, 403, 404, ...), not for its own state: retrying
    /// soon would be refused again. 408 and 429 are storage asking for time.</summary>
    internal static bool IsRejection(Exception ex) => ex is GoogleApiException { HttpStatusCode: var status }
        && (int)status is >= 400 and < 500 && status is not HttpStatusCode.RequestTimeout and not HttpStatusCode.TooManyRequests;

    /// <summary>Writes the object's bytes from <paramref name="offset"/> on to <paramref name="destination"/>.</summary>
    internal Task DownloadFromAsync(string objectName, long offset, Stream destination, CancellationToken cancellationToken) =>
        Client.DownloadObjectAsync(Bucket, objectName, destination,
            new DownloadObjectOptions { Range = new System.Net.Http.Headers.RangeHeaderValue(offset, null) }, cancellationToken);

    public void Dispose() => _client?.Dispose();

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Upload of response {ResponseId} was already in storage (an earlier attempt's answer was lost); counted as delivered")]
    private static partial void LogAlreadyThere(ILogger logger, Guid responseId);
}
