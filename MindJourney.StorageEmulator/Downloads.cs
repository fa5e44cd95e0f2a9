using System.Buffers;
using System.Globalization;
using Microsoft.Net.Http.Headers;

namespace MindJourney.StorageEmulator;

/// <summary>Media download (<c>alt=media</c>) with the headers GCS sends, including <c>x-goog-hash</c>, and Range.</summary>
internal static class Downloads
{
    public static async Task ServeAsync(HttpContext context, ObjectStore store, string bucket, string name,
        long? generation, Preconditions preconditions)
    {
        var (obj, content) = store.Open(bucket, name, generation, preconditions);
        await using var _ = content;
        var request = context.Request;
        var response = context.Response;

        long start = 0;
        var length = obj.Size;
        var partial = false;
        if (request.Headers.Range.Count > 0
            && TryParseRange(request.Headers.Range.ToString(), obj.Size, out var from, out var to, out var valid))
        {
            if (!valid)
            {
                await GcsErrors.WriteAsync(context, StatusCodes.Status416RangeNotSatisfiable,
                    "requestedRangeNotSatisfiable", "The requested range cannot be satisfied.",
                    r => r.Headers.ContentRange = $"bytes */{obj.Size}");
                return;
            }

            start = from;
            length = to - from + 1;
            partial = true;
        }

        response.StatusCode = partial ? StatusCodes.Status206PartialContent : StatusCodes.Status200OK;
        response.ContentType = obj.ContentType;
        response.ContentLength = length;
        var headers = response.Headers;
        if (partial)
        {
            headers.ContentRange = $"bytes {start}-{start + length - 1}/{obj.Size}";
        }

        if (!partial)
        {
            // Whole-object hashes; GCS leaves them out of ranged (206) responses, and clients validate what they get.
            headers["x-goog-hash"] = $"crc32c={obj.Crc32c},md5={obj.Md5Hash}";
        }

        headers["x-goog-generation"] = Json.Number(obj.Generation);
        headers["x-goog-metageneration"] = Json.Number(obj.Metageneration);
        headers["x-goog-stored-content-length"] = Json.Number(obj.Size);
        headers["x-goog-stored-content-encoding"] = obj.ContentEncoding ?? "identity";
        headers["x-goog-storage-class"] = "STANDARD";
        headers.ETag = $"\"{Convert.ToHexStringLower(Convert.FromBase64String(obj.Md5Hash))}\"";
        headers.LastModified = obj.Updated.ToString("R", CultureInfo.InvariantCulture);
        headers.AcceptRanges = "bytes";
        if (obj.ContentDisposition is { } disposition)
        {
            headers.ContentDisposition = disposition;
        }

        if (obj.ContentLanguage is { } language)
        {
            headers.ContentLanguage = language;
        }

        headers.CacheControl = obj.CacheControl ?? "no-cache, no-store, max-age=0, must-revalidate";
        foreach (var (key, value) in obj.Metadata ?? new Dictionary<string, string>())
        {
            if (IsHeaderSafe(key) && IsHeaderSafe(value))
            {
                headers["x-goog-meta-" + key] = value;
            }
        }

        if (HttpMethods.IsHead(request.Method) || length == 0)
        {
            return;
        }

        if (start > 0)
        {
            content.Seek(start, SeekOrigin.Begin);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            var remaining = length;
            while (remaining > 0)
            {
                var read = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                await response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool IsHeaderSafe(string text) => text.All(c => c is >= ' ' and <= '~');

    /// <summary>One "bytes=a-b" / "bytes=a-" / "bytes=-n" range. Returns false when the header is to be ignored.</summary>
    private static bool TryParseRange(string header, long size, out long from, out long to, out bool satisfiable)
    {
        from = 0;
        to = size - 1;
        satisfiable = true;
        if (!RangeHeaderValue.TryParse(header, out var parsed)
            || !string.Equals(parsed.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase)
            || parsed.Ranges.Count != 1)
        {
            return false;
        }

        var range = parsed.Ranges.First();
        if (range.From is { } f)
        {
            if (f >= size)
            {
                satisfiable = false;
                return true;
            }

            from = f;
            to = range.To is { } t ? Math.Min(t, size - 1) : size - 1;
        }
        else if (range.To is { } suffix)
        {
            if (suffix == 0 || size == 0)
            {
                satisfiable = false;
                return true;
            }

            from = Math.Max(0, size - suffix);
        }

        return true;
    }
}
