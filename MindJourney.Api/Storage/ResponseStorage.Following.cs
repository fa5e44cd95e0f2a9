using System.Net;
using System.Net.Http.Headers;
using Google;
using Google.Cloud.Storage.V1;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace MindJourney.Api.Storage;

/// <summary>
/// An upload that follows its spool in two requests of one resumable session (the GCS protocol's chunks): the bytes
/// the request's length promises (<see cref="SpoolTap.FirstChunkBytes"/>) streamed in one chunk as they arrive, then,
/// once the request has accepted the file, the rest with the total, which creates the object. Storage never sees the
/// total before then, so a refused or broken upload leaves an unfinished session and no object. A file shorter than
/// promised breaks the first chunk: storage is asked what it kept, and the rest goes from there.
/// </summary>
public sealed partial class ResponseStorage
{
    /// <summary>Session URIs carry their own authorisation (the upload id): these requests need no credentials.</summary>
    private static readonly HttpClient SessionHttp = new(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1) })
    {
        Timeout = Timeout.InfiniteTimeSpan, // the caller's deadline
    };

    private async Task<StorageObject?> CreateFollowingAsync(StorageObject destination, SpoolTap.Reader content,
        CancellationToken cancellationToken)
    {
        var tap = content.Tap;
        Uri session;
        try
        {
            session = await Client.InitiateUploadSessionAsync(destination, contentLength: null,
                new UploadObjectOptions { IfGenerationMatch = 0 }, cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.PreconditionFailed)
        {
            return null;
        }

        var first = new FirstChunk(content, tap.FirstChunkBytes);
        long kept;
        try
        {
            using var response = await PutAsync(session, first, $"bytes 0-{tap.FirstChunkBytes - 1}/*", cancellationToken);
            kept = await KeptAsync(response, cancellationToken);
        }
        catch (Exception) when (tap.Decided is { IsCompleted: true, Result: false })
        {
            throw new SpoolAbandonedException(); // storage keeps an unfinished session, no object
        }
        catch (Exception) when (first.Short && !cancellationToken.IsCancellationRequested)
        {
            // The file ended before the promised bytes (more fields after it): what did storage keep?
            using var status = await PutAsync(session, null, "bytes */*", cancellationToken);
            kept = await KeptAsync(status, cancellationToken);
        }

        await using var rest = await tap.OpenCompleteAsync(kept);
        var total = tap.Written;
        var range = kept < total ? $"bytes {kept}-{total - 1}/{total}" : $"bytes */{total}";
        var body = new StreamContent(rest);
        body.Headers.ContentLength = total - kept;
        using var last = await PutAsync(session, body, range, cancellationToken);
        if (last.StatusCode == HttpStatusCode.PreconditionFailed)
        {
            return null; // the name was taken while the bytes travelled
        }

        await ThrowUnlessSuccessAsync(last, cancellationToken);
        var json = await last.Content.ReadAsStringAsync(cancellationToken);
        return Client.Service.Serializer.Deserialize<StorageObject>(json);
    }

    private static Task<HttpResponseMessage> PutAsync(Uri session, HttpContent? body, string contentRange,
        CancellationToken cancellationToken)
    {
        body ??= new ByteArrayContent([]);
        body.Headers.TryAddWithoutValidation("Content-Range", contentRange);
        var request = new HttpRequestMessage(HttpMethod.Put, session) { Content = body };
        return SessionHttp.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    /// <summary>The bytes storage kept of an unfinished session (a 308's <c>Range: bytes=0-last</c>).</summary>
    private static async Task<long> KeptAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if ((int)response.StatusCode != 308)
        {
            await ThrowUnlessSuccessAsync(response, cancellationToken);
            throw new IOException($"Storage answered {(int)response.StatusCode} to an unfinished upload's chunk.");
        }

        return response.Headers.TryGetValues("Range", out var values) && values.FirstOrDefault() is { } range
            && range.StartsWith("bytes=0-", StringComparison.Ordinal) && long.TryParse(range["bytes=0-".Length..], out var last)
            ? last + 1
            : 0;
    }

    /// <summary>Storage's refusal as the client library reports it, so the callers tell refusals from outages.</summary>
    private static async Task ThrowUnlessSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        throw new GoogleApiException("storage", $"Storage answered {(int)response.StatusCode}: {text[..Math.Min(text.Length, 300)]}")
        {
            HttpStatusCode = response.StatusCode,
        };
    }

    /// <summary>The first <paramref name="length"/> bytes of a followed spool, sent as they arrive.</summary>
    private sealed class FirstChunk(Stream source, long length) : HttpContent
    {
        /// <summary>The file ended before <paramref name="length"/> bytes.</summary>
        public bool Short { get; private set; }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var buffer = new byte[81_920];
            for (var left = length; left > 0;)
            {
                var read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken);
                if (read == 0)
                {
                    Short = true;
                    throw new IOException("The file ended before its first chunk did.");
                }

                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                left -= read;
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length1)
        {
            length1 = length;
            return true;
        }
    }
}
