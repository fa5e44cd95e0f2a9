namespace MindJourney.Api.Data;

// Table and column names follow the original platform (snake_case), so its data and queries carry over.

public sealed class Experiment
{
    public Guid Id { get; set; }
    public required string Title { get; set; }
    public string? Description { get; set; }
    public int TotalLevels { get; set; }

    /// <summary>The study's link: <c>/?study={slug}</c> (<see cref="StudySlugs"/>); fixed once a live person started.</summary>
    public required string Slug { get; set; }

    /// <summary>One of <see cref="StudyStatuses"/>: only an open study takes new live people.</summary>
    public string Status { get; set; } = StudyStatuses.Draft;

    /// <summary>When the study was last opened: <c>GET /api/experiment</c> answers the most recently opened open one.</summary>
    public DateTimeOffset? OpenedAt { get; set; }

    /// <summary>The most live people the study numbers, ever (null: no cap). Checked by the numbering statement
    /// against <see cref="ParticipantsNumbered"/> under the row's lock.</summary>
    public int? MaxParticipants { get; set; }

    /// <summary>Live people given a study participant number so far: the last number handed out (gap-free).</summary>
    public int ParticipantsNumbered { get; set; }

    /// <summary>Pilot people given a study participant number so far (pilots are numbered apart and never capped).</summary>
    public int PilotsNumbered { get; set; }

    /// <summary>Where a recruited participant goes when done (the recruitment issue uses it).</summary>
    public string? CompletionUrl { get; set; }

    /// <summary>The query parameter a recruitment pool (SONA) sends the participant's id in.</summary>
    public string? SonaParameter { get; set; }

    /// <summary>Random bytes the study's pilot token is signed over; replacing them revokes every earlier token.</summary>
    public byte[] PilotNonce { get; set; } = [];

    /// <summary>The conditions a participant can be assigned to (empty: no conditions), in their declared order.</summary>
    public string[] Conditions { get; set; } = [];

    /// <summary>How a condition is chosen: one of <see cref="ConditionSchemes"/>.</summary>
    public string ConditionScheme { get; set; } = ConditionSchemes.Cycle;

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

    /// <summary><see cref="SessionModes.Live"/> or <see cref="SessionModes.Pilot"/>: a pilot person's number comes
    /// from the pilot sequence, so numbers are unique per mode.</summary>
    public string Mode { get; set; } = SessionModes.Live;

    /// <summary>The visitor number belongs to the person; every session and response inherits it.</summary>
    public int? VisitorNumber { get; set; }

    /// <summary>When the person withdrew (or was withdrawn): their data is erased, the row and its number stay so the
    /// numbering is whole.</summary>
    public DateTimeOffset? WithdrawnAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>A person a panel (Prolific, MTurk, SONA, a link) sent to a study: within the study, (source, participant)
/// is the person, on any device. The panel's id is kept in the clear for the researcher until the person withdraws;
/// <see cref="ParticipantKey"/> (a keyed hash of it) stays, so the same ids still find the withdrawn person.</summary>
public sealed class Recruitment
{
    public Guid ExperimentId { get; set; }

    /// <summary>One of <see cref="RecruitmentSources"/>.</summary>
    public required string Source { get; set; }

    /// <summary>HMAC of the panel's participant id: the key lookups use, never erased.</summary>
    public required byte[] ParticipantKey { get; set; }

    /// <summary>The panel's participant id (PROLIFIC_PID, workerId, the SONA id, a link's participant); null once
    /// withdrawn.</summary>
    public string? ParticipantId { get; set; }

    /// <summary>The panel's own study id (Prolific STUDY_ID, MTurk hitId); null once withdrawn.</summary>
    public string? PanelStudyId { get; set; }

    /// <summary>The panel's own session id (Prolific SESSION_ID, MTurk assignmentId); null once withdrawn.</summary>
    public string? PanelSessionId { get; set; }

    public Guid UserId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public static class RecruitmentSources
{
    public const string Prolific = "prolific";
    public const string MTurk = "mturk";
    public const string Sona = "sona";
    public const string Link = "link";

    public static readonly string[] All = [Prolific, MTurk, Sona, Link];
}

public sealed class ExperimentSession
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }
    public Guid ExperimentId { get; set; }
    public int? VisitorNumber { get; set; }

    /// <summary>Copied from the user: a pilot session's number is a pilot number ("Pilot #N").</summary>
    public string Mode { get; set; } = SessionModes.Live;

    /// <summary>The person's number within this study and mode (1, 2, 3… gap-free), given in the statement that
    /// creates their first session in it, fallback or not; every later session of theirs in the study copies it.
    /// Conditions are drawn from it. Null only for rows written outside the API.</summary>
    public int? StudyParticipantNumber { get; set; }

    /// <summary>The condition assigned with the number (null while unnumbered or when the experiment has none).</summary>
    public string? Condition { get; set; }

    /// <summary>The full order of conditions under the latin-square scheme (its first entry is <see cref="Condition"/>).</summary>
    public string[]? ConditionOrder { get; set; }

    public int CurrentLevel { get; set; }
    public string? BranchingPath { get; set; }
    public bool IsCompleted { get; set; }

    /// <summary>Free JSON kept for the client (jsonb).</summary>
    public string? SessionData { get; set; }

    /// <summary>The HMAC of the Idempotency-Key this session was started with (<c>IdempotencyKeyHasher</c>), never the
    /// key as sent; forgotten after the key's lifetime.</summary>
    public string? IdempotencyKey { get; set; }

    /// <summary>SHA-256 of what the Idempotency-Key was first sent with (user, experiment, body): a replay must
    /// match it, so one key can never hand one person's session to another.</summary>
    public byte[]? IdempotencyFingerprint { get; set; }

    /// <summary>SHA-256 hashes of the session secrets handed out for this session: its start's and one for each of
    /// its Idempotency-Key's first 8 replays, never dropped. The secrets themselves are never stored.</summary>
    public byte[][]? SecretHashes { get; set; }

    /// <summary>Answers the session holds, kept by the statement that records each one: the quota check reads and
    /// bumps it under the session row's lock instead of counting rows.</summary>
    public int ResponseCount { get; set; }

    /// <summary>Files (voice, video, photo) among <see cref="ResponseCount"/>, for the per-session file quota.</summary>
    public int FileCount { get; set; }

    /// <summary>Bytes the session holds against its byte quota: its files and texts, and every answer's JSON.</summary>
    public long StoredBytes { get; set; }

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

    /// <summary>UTF-8 bytes of <see cref="ResponseData"/> as received, counted against the session's byte quota
    /// like a file (null for answers recorded before it was kept).</summary>
    public long? ResponseDataBytes { get; set; }

    /// <summary>Storage object name of the stored file or text, when there is one.</summary>
    public string? FileId { get; set; }

    /// <summary>Size of the stored file or text, counted against the session's upload quota.</summary>
    public long? FileSizeBytes { get; set; }

    /// <summary>Base64 MD5 of the stored file or text, as storage reports it: lets an export be verified.</summary>
    public string? FileMd5 { get; set; }

    public string? FileUrl { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Where the file or text stands: <c>pending</c> (kept in <see cref="StorageDelivery"/> until
    /// delivered), <c>stored</c>, or null when nothing goes to storage.</summary>
    public string? StorageStatus { get; set; }

    /// <summary>The visitor number the stored object's metadata carries; differs from <see cref="VisitorNumber"/>
    /// after a recovery until the metadata is patched (the storage worker finds such rows by this).</summary>
    public int? ObjectVisitorNumber { get; set; }

    /// <summary>The HMAC of the Idempotency-Key the answer was sent with (as for sessions, never the key itself);
    /// unique within its session, forgotten after the key's lifetime.</summary>
    public string? IdempotencyKey { get; set; }

    /// <summary>SHA-256 of what the key was first sent with (for a file, its size and MD5): a replay must match it.</summary>
    public byte[]? IdempotencyFingerprint { get; set; }
}

/// <summary>How <see cref="Experiment.ConditionScheme"/> picks a condition.</summary>
public static class ConditionSchemes
{
    /// <summary>conditions[(visitorNumber - 1) mod k]: reproducible from the number alone.</summary>
    public const string Cycle = "cycle";

    /// <summary>A row of a balanced (Williams) Latin square chosen by the number: an order of all conditions.</summary>
    public const string LatinSquare = "latin-square";

    /// <summary>The condition with the fewest completed sessions, decided under a per-experiment lock.</summary>
    public const string LeastFilled = "least-filled";
}

/// <summary>Where a study stands: <c>draft</c> (pilots only), <c>open</c> (takes new live people), <c>closed</c>
/// (no new people; those already in it go on).</summary>
public static class StudyStatuses
{
    public const string Draft = "draft";
    public const string Open = "open";
    public const string Closed = "closed";

    public static readonly string[] All = [Draft, Open, Closed];
}

/// <summary>Live participants count; pilots (a researcher trying the study) draw from their own sequence.</summary>
public static class SessionModes
{
    public const string Live = "live";
    public const string Pilot = "pilot";
}

/// <summary>Started and completed sessions per condition and mode, kept with each start and completion so the
/// least-filled scheme reads a few rows instead of counting every session.</summary>
public sealed class ConditionTally
{
    public Guid ExperimentId { get; set; }
    public required string Mode { get; set; }
    public required string Condition { get; set; }
    public long Started { get; set; }
    public long Completed { get; set; }
}

/// <summary>A researcher's action (recovery, export): when, by which key (a fingerprint, never the key), what
/// it changed.</summary>
public sealed class AdminAction
{
    public Guid Id { get; set; }
    public DateTimeOffset At { get; set; }
    public required string KeyFingerprint { get; set; }
    public required string Action { get; set; }

    /// <summary>What the action did, as JSON (jsonb).</summary>
    public required string Details { get; set; }
}
