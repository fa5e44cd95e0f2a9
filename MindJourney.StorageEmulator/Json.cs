using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MindJourney.StorageEmulator;

/// <summary>Reading request JSON and writing Google's resource JSON (64-bit numbers as strings, RFC 3339 times).</summary>
internal static class Json
{
    public const string ContentType = "application/json; charset=UTF-8";

    // Google writes '+', '&' and non-ASCII characters as they are; so do we (still valid JSON).
    public static readonly JsonSerializerOptions Output = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static IResult Ok(JsonNode body, int status = StatusCodes.Status200OK) =>
        Results.Text(body.ToJsonString(Output), ContentType, statusCode: status);

    /// <summary>Reads a JSON object body (gzip-encoded bodies too: Google.Apis compresses requests). Empty means {}.</summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        Stream body = request.Body;
        if (string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
        {
            body = new GZipStream(body, CompressionMode.Decompress, leaveOpen: true);
        }

        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, cancellationToken);
        return Parse(buffer.ToArray());
    }

    public static JsonObject Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Trim(" \t\r\n"u8).IsEmpty)
        {
            return [];
        }

        return JsonNode.Parse(utf8) as JsonObject ?? throw GcsException.BadRequest("Expected a JSON object.", "parseError");
    }

    public static string Time(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string? String(JsonObject? body, string key) =>
        body is not null && body.TryGetPropertyValue(key, out var node) && node is JsonValue value
            && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>()
            : null;

    public static DateTimeOffset? Time(JsonObject? body, string key) =>
        String(body, key) is { } text
            ? DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                ? t.ToUniversalTime()
                : throw GcsException.BadRequest($"Invalid value for {key}: {text}")
            : null;

    /// <summary>A map of string values (custom metadata, labels). Non-string scalars are kept as their JSON text.</summary>
    public static IReadOnlyDictionary<string, string>? StringMap(JsonObject? body, string key)
    {
        if (body is null || !body.TryGetPropertyValue(key, out var node) || node is null)
        {
            return null;
        }

        if (node is not JsonObject map)
        {
            throw GcsException.BadRequest($"Invalid value for {key}: expected an object.");
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in map)
        {
            if (v is not null)
            {
                result[k] = ScalarText(v);
            }
        }

        return result;
    }

    /// <summary>PATCH semantics for a map: keys merge, a null value removes its key, a null map clears it.</summary>
    public static IReadOnlyDictionary<string, string>? MergeMap(IReadOnlyDictionary<string, string>? current,
        JsonObject body, string key)
    {
        if (!body.TryGetPropertyValue(key, out var node))
        {
            return current;
        }

        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject map)
        {
            throw GcsException.BadRequest($"Invalid value for {key}: expected an object.");
        }

        var result = current is null
            ? new Dictionary<string, string>(StringComparer.Ordinal)
            : new Dictionary<string, string>(current, StringComparer.Ordinal);
        foreach (var (k, v) in map)
        {
            if (v is null)
            {
                result.Remove(k);
            }
            else
            {
                result[k] = ScalarText(v);
            }
        }

        return result.Count == 0 ? null : result;
    }

    private static string ScalarText(JsonNode node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>()
            : node.ToJsonString();

    private static JsonObject? MapNode(IReadOnlyDictionary<string, string>? map)
    {
        if (map is null || map.Count == 0)
        {
            return null;
        }

        var node = new JsonObject();
        foreach (var (k, v) in map)
        {
            node[k] = v;
        }

        return node;
    }

    // ---------------------------------------------------------------- resources

    public static string BaseUrl(HttpRequest request) => $"{request.Scheme}://{request.Host}";

    public static JsonObject ObjectResource(StoredObject o, string baseUrl)
    {
        var escaped = Uri.EscapeDataString(o.Name);
        var generation = Number(o.Generation);
        var node = new JsonObject
        {
            ["kind"] = "storage#object",
            ["id"] = $"{o.Bucket}/{o.Name}/{generation}",
            ["selfLink"] = $"{baseUrl}/storage/v1/b/{o.Bucket}/o/{escaped}",
            ["mediaLink"] = $"{baseUrl}/download/storage/v1/b/{o.Bucket}/o/{escaped}?generation={generation}&alt=media",
            ["name"] = o.Name,
            ["bucket"] = o.Bucket,
            ["generation"] = generation,
            ["metageneration"] = Number(o.Metageneration),
            ["contentType"] = o.ContentType,
            ["storageClass"] = "STANDARD",
            ["size"] = Number(o.Size),
            ["md5Hash"] = o.Md5Hash,
            ["crc32c"] = o.Crc32c,
            ["etag"] = o.ETag,
            ["timeCreated"] = Time(o.TimeCreated),
            ["updated"] = Time(o.Updated),
            ["timeStorageClassUpdated"] = Time(o.TimeCreated),
            ["timeFinalized"] = Time(o.TimeCreated),
        };
        AddIfSet(node, "cacheControl", o.CacheControl);
        AddIfSet(node, "contentDisposition", o.ContentDisposition);
        AddIfSet(node, "contentEncoding", o.ContentEncoding);
        AddIfSet(node, "contentLanguage", o.ContentLanguage);
        if (o.CustomTime is { } customTime)
        {
            node["customTime"] = Time(customTime);
        }

        if (MapNode(o.Metadata) is { } metadata)
        {
            node["metadata"] = metadata;
        }

        return node;
    }

    public static JsonObject BucketResource(BucketRecord b, string baseUrl)
    {
        var node = new JsonObject
        {
            ["kind"] = "storage#bucket",
            ["selfLink"] = $"{baseUrl}/storage/v1/b/{b.Name}",
            ["id"] = b.Name,
            ["name"] = b.Name,
            ["projectNumber"] = "0",
            ["metageneration"] = Number(b.Metageneration),
            ["location"] = b.Location,
            ["locationType"] = "multi-region",
            ["storageClass"] = b.StorageClass,
            ["etag"] = Convert.ToBase64String(BitConverter.GetBytes(b.Metageneration)).TrimEnd('='),
            ["timeCreated"] = Time(b.TimeCreated),
            ["updated"] = Time(b.Updated),
            ["rpo"] = "DEFAULT",
        };
        if (MapNode(b.Labels) is { } labels)
        {
            node["labels"] = labels;
        }

        return node;
    }

    public static JsonObject MetadataMap(IReadOnlyDictionary<string, string>? map) => MapNode(map) ?? [];

    private static void AddIfSet(JsonObject node, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            node[key] = value;
        }
    }
}
