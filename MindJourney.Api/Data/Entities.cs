namespace MindJourney.Api.Data;

// Table and column names follow the original platform (snake_case), so its data and queries carry over.

public sealed class Experiment
{
    public Guid Id { get; set; }
    public required string Title { get; set; }
    public string? Description { get; set; }
    public int TotalLevels { get; set; }
    public bool IsActive { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    public List<ExperimentLevel> Levels { get; set; } = [];
}

public sealed class ExperimentLevel
{
    public Guid Id { get; set; }
    public Guid ExperimentId { get; set; }
    public int LevelNumber { get; set; }
    public required string Title { get; set; }
    public string? Description { get; set; }

    /// <summary>JSON array of questions: <c>[{ id, type, prompt }]</c>.</summary>
    public required string Questions { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class User
{
    public Guid Id { get; set; }
    public bool IsAnonymous { get; set; }

    /// <summary>The visitor number belongs to the person; every session and response inherits it.</summary>
    public int? VisitorNumber { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class ExperimentSession
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }
    public Guid ExperimentId { get; set; }
    public int? VisitorNumber { get; set; }
    public int CurrentLevel { get; set; }
    public string? BranchingPath { get; set; }
    public bool IsCompleted { get; set; }

    /// <summary>Free JSON kept for the client (jsonb).</summary>
    public string? SessionData { get; set; }

    public string? IdempotencyKey { get; set; }

    /// <summary>SHA-256 of what the Idempotency-Key was first sent with (user, experiment, body): a replay must
    /// match it, so one key can never hand one person's session to another.</summary>
    public byte[]? IdempotencyFingerprint { get; set; }

    /// <summary>SHA-256 hashes of the session secrets handed out for this session (one per start or replay, a
    /// few at most). The secrets themselves are never stored.</summary>
    public byte[][]? SecretHashes { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    public Experiment? Experiment { get; set; }
}

public sealed class ExperimentResponse
{
    public Guid Id { get; set; }
    public Guid SessionId { get; set; }
    public Guid UserId { get; set; }
    public int? VisitorNumber { get; set; }
    public required string LevelId { get; set; }
    public required string QuestionId { get; set; }
    public required string ResponseType { get; set; }

    /// <summary>The answer as JSON (jsonb).</summary>
    public required string ResponseData { get; set; }

    /// <summary>Storage object name of the stored file or text, when there is one.</summary>
    public string? FileId { get; set; }

    /// <summary>Size of the stored file or text, counted against the session's upload quota.</summary>
    public long? FileSizeBytes { get; set; }
    public string? FileUrl { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Where the file or text stands: <c>pending</c> (kept in <see cref="StorageDelivery"/> until
    /// delivered), <c>stored</c>, or null when nothing goes to storage.</summary>
    public string? StorageStatus { get; set; }

    /// <summary>The visitor number the stored object's metadata carries; differs from <see cref="VisitorNumber"/>
    /// after a recovery until the metadata is patched (the storage worker finds such rows by this).</summary>
    public int? ObjectVisitorNumber { get; set; }
}
