using System.Globalization;
using System.Text.Json.Serialization;

namespace MindJourney.StorageEmulator;

/// <summary>A live object version: its metadata plus a reference to its bytes. Immutable; writes replace it.</summary>
internal sealed record StoredObject
{
    public required string Bucket { get; init; }
    public required string Name { get; init; }
    public required long Generation { get; init; }
    public long Metageneration { get; init; } = 1;
    public required long Size { get; init; }
    public string ContentType { get; init; } = "application/octet-stream";
    public required string Md5Hash { get; init; }
    public required string Crc32c { get; init; }
    public required DateTimeOffset TimeCreated { get; init; }
    public required DateTimeOffset Updated { get; init; }
    public string? CacheControl { get; init; }
    public string? ContentDisposition { get; init; }
    public string? ContentEncoding { get; init; }
    public string? ContentLanguage { get; init; }
    public DateTimeOffset? CustomTime { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>File name of the bytes, next to the sidecar (disk backend only).</summary>
    public string? BlobFile { get; init; }

    [JsonIgnore]
    public BlobRef Blob { get; init; } = null!;

    [JsonIgnore]
    public string ETag => Convert.ToBase64String(
        System.Text.Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Generation}/{Metageneration}")));
}

internal sealed record BucketRecord
{
    public required string Name { get; init; }
    public required DateTimeOffset TimeCreated { get; init; }
    public required DateTimeOffset Updated { get; init; }
    public long Metageneration { get; init; } = 1;
    public string Location { get; init; } = "US";
    public string StorageClass { get; init; } = "STANDARD";
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
}

/// <summary>The writable fields of an object resource, as given on insert.</summary>
internal sealed record ObjectDraft
{
    public required string Bucket { get; init; }
    public required string Name { get; init; }
    public string? ContentType { get; init; }
    public string? CacheControl { get; init; }
    public string? ContentDisposition { get; init; }
    public string? ContentEncoding { get; init; }
    public string? ContentLanguage { get; init; }
    public DateTimeOffset? CustomTime { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    /// <summary>Hashes the client declared in the resource (validated at finalize when present).</summary>
    public string? ExpectedMd5 { get; init; }
    public string? ExpectedCrc32c { get; init; }
}

/// <summary>ifGenerationMatch &amp; co, from the query string.</summary>
internal sealed record Preconditions(long? IfGenerationMatch, long? IfGenerationNotMatch,
    long? IfMetagenerationMatch, long? IfMetagenerationNotMatch)
{
    public static readonly Preconditions None = new(null, null, null, null);

    public bool IsEmpty => this == None;

    public static Preconditions From(IQueryCollection query, string prefix = "") => new(
        Query.Long(query, prefix + "ifGenerationMatch"),
        Query.Long(query, prefix + "ifGenerationNotMatch"),
        Query.Long(query, prefix + "ifMetagenerationMatch"),
        Query.Long(query, prefix + "ifMetagenerationNotMatch"));

    /// <summary>Checks a write against the current live version (null when absent).</summary>
    public void CheckWrite(StoredObject? current)
    {
        if (!Holds(current))
        {
            throw GcsException.PreconditionFailed();
        }
    }

    /// <summary>Checks a read: *Match failures are 412, *NotMatch failures are 304, as GCS does.</summary>
    public void CheckRead(StoredObject current)
    {
        if ((IfGenerationMatch is { } g && g != current.Generation)
            || (IfMetagenerationMatch is { } m && m != current.Metageneration))
        {
            throw GcsException.PreconditionFailed();
        }

        if ((IfGenerationNotMatch is { } gn && gn == current.Generation)
            || (IfMetagenerationNotMatch is { } mn && mn == current.Metageneration))
        {
            throw GcsException.NotModified();
        }
    }

    private bool Holds(StoredObject? current)
    {
        if (current is null)
        {
            // Generation 0 stands for "no live object".
            return (IfGenerationMatch is null or 0)
                && (IfGenerationNotMatch is null || IfGenerationNotMatch != 0)
                && IfMetagenerationMatch is null;
        }

        return (IfGenerationMatch is null || IfGenerationMatch == current.Generation)
            && (IfGenerationNotMatch is null || IfGenerationNotMatch != current.Generation)
            && (IfMetagenerationMatch is null || IfMetagenerationMatch == current.Metageneration)
            && (IfMetagenerationNotMatch is null || IfMetagenerationNotMatch != current.Metageneration);
    }
}

internal static class Query
{
    public static string? String(IQueryCollection query, string key)
    {
        var value = query[key];
        return value.Count == 0 || string.IsNullOrEmpty(value[0]) ? null : value[0];
    }

    public static long? Long(IQueryCollection query, string key)
    {
        var text = String(query, key);
        if (text is null)
        {
            return null;
        }

        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw GcsException.BadRequest($"Invalid value for {key}: {text}");
    }

    public static bool Bool(IQueryCollection query, string key) =>
        string.Equals(String(query, key), "true", StringComparison.OrdinalIgnoreCase);
}
