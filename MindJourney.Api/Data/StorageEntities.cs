namespace MindJourney.Api.Data;

/// <summary>An upload accepted but not yet in storage (the outbox). The row and its content are written in the
/// same transaction as the response, and deleted in the same statement that marks the response stored.</summary>
public sealed class StorageDelivery
{
    public Guid ResponseId { get; set; }
    public required string ObjectName { get; set; }
    public required string ContentType { get; set; }
    public long SizeBytes { get; set; }

    /// <summary>Base64 MD5 of the content, as storage reports it: tells a retry that finds the object already
    /// there whether it is ours.</summary>
    public required string Md5Hash { get; set; }

    public required string OriginalName { get; set; }
    public DateTimeOffset UploadedAt { get; set; }
    public int Attempts { get; set; }

    /// <summary>When a worker may try next; also the lease of whoever is trying now.</summary>
    public DateTimeOffset NextAttemptAt { get; set; }

    public string? LastError { get; set; }

    /// <summary>When storage last refused this upload for good (a 4xx such as 400 or 403, not an outage); the
    /// audit reports such uploads, and they are retried only at the longest backoff.</summary>
    public DateTimeOffset? RejectedAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The content is the answer's own text (<c>experiment_responses.response_data</c>), written out as
    /// UTF-8 when delivered: a text answer keeps no second copy of its bytes.</summary>
    public bool FromAnswerText { get; set; }
}

/// <summary>The bytes of a pending upload, in slices, so neither side ever holds a 200 MiB value in memory.</summary>
public sealed class StorageDeliveryChunk
{
    public Guid ResponseId { get; set; }
    public int Sequence { get; set; }
    public required byte[] Data { get; set; }
}
