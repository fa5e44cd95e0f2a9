using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Storage;

/// <summary>Settings under <c>MindJourney:Storage</c>. Where storage is comes from the platform's own variables
/// (<see cref="StorageTarget"/>).</summary>
public sealed class StorageOptions : IValidatableObject
{
    public const string SectionName = "MindJourney:Storage";

    /// <summary>Largest text answer written to storage as <c>text-response.txt</c>.</summary>
    [Range(1, 1L << 30, ErrorMessage = "MindJourney:Storage:MaxTextBytes must be between {1} and {2}.")]
    public long MaxTextBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest voice, video or photo file.</summary>
    [Range(1, 1L << 40, ErrorMessage = "MindJourney:Storage:MaxMediaBytes must be between {1} and {2}.")]
    public long MaxMediaBytes { get; set; } = 200L * 1024 * 1024;

    /// <summary>Files (voice, video, photo) one session may upload.</summary>
    [Range(0, int.MaxValue, ErrorMessage = "MindJourney:Storage:MaxFilesPerSession must be 0 or more.")]
    public int MaxFilesPerSession { get; set; } = 50;

    /// <summary>Bytes one session may have stored, files and text answers together.</summary>
    [Range(0, long.MaxValue, ErrorMessage = "MindJourney:Storage:MaxBytesPerSession must be 0 or more.")]
    public long MaxBytesPerSession { get; set; } = 1024L * 1024 * 1024;

    /// <summary>Responses of any kind one session may record.</summary>
    [Range(0, int.MaxValue, ErrorMessage = "MindJourney:Storage:MaxResponsesPerSession must be 0 or more.")]
    public int MaxResponsesPerSession { get; set; } = 1000;

    /// <summary>Multipart uploads one client address may have in flight at once; 0 turns the limit off.</summary>
    [Range(0, 10_000, ErrorMessage = "MindJourney:Storage:MaxUploadsInFlightPerClient must be between {1} (off) and {2}.")]
    public int MaxUploadsInFlightPerClient { get; set; } = 4;

    /// <summary>Bytes of uploads (files and text answers written to storage) one client address may have accepted per
    /// hour: sessions are free, so the per-session quotas alone do not bound one client's share of the database's
    /// disk. 0 turns the limit off.</summary>
    [Range(0, long.MaxValue, ErrorMessage = "MindJourney:Storage:UploadBytesPerClientPerHour must be 0 (off) or more.")]
    public long UploadBytesPerClientPerHour { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Ceiling on the bytes of all pending uploads (the durable copies in PostgreSQL of uploads not yet in
    /// storage), whoever sent them: past it uploads answer 507 and nothing is written.</summary>
    [Range(1, long.MaxValue, ErrorMessage = "MindJourney:Storage:MaxPendingBytes must be 1 or more.")]
    public long MaxPendingBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>Folder that holds uploads while they arrive; empty means the system's temporary folder.</summary>
    public string? SpoolPath { get; set; }

    public string SpoolFolder => string.IsNullOrWhiteSpace(SpoolPath) ? Path.GetTempPath() : SpoolPath;

    /// <summary>How long a request waits for storage before it takes the durable copy, answers <c>pending</c> and
    /// leaves the upload to the worker (a file also gets <see cref="MinUploadBytesPerSecond"/>'s time for its size).</summary>
    [Range(0.1, 3600, ErrorMessage = "MindJourney:Storage:UploadTimeoutSeconds must be between {1} and {2}.")]
    public double UploadTimeoutSeconds { get; set; } = 10;

    /// <summary>A file's first attempt and the worker's give a big file this much extra time per second of transfer on
    /// top of <see cref="UploadTimeoutSeconds"/> (bytes per second it must at least reach).</summary>
    [Range(1, long.MaxValue, ErrorMessage = "MindJourney:Storage:MinUploadBytesPerSecond must be 1 or more.")]
    public long MinUploadBytesPerSecond { get; set; } = 1024 * 1024;

    /// <summary>First retry delay after a failed delivery; doubles per attempt up to <see cref="RetryMaxDelaySeconds"/>.</summary>
    [Range(0.05, 86_400, ErrorMessage = "MindJourney:Storage:RetryInitialDelaySeconds must be between {1} and {2}.")]
    public double RetryInitialDelaySeconds { get; set; } = 2;

    [Range(0.05, 86_400, ErrorMessage = "MindJourney:Storage:RetryMaxDelaySeconds must be between {1} and {2}.")]
    public double RetryMaxDelaySeconds { get; set; } = 300;

    /// <summary>How often an idle worker looks for deliveries that are due.</summary>
    [Range(0.01, 3600, ErrorMessage = "MindJourney:Storage:PollIntervalSeconds must be between {1} and {2}.")]
    public double PollIntervalSeconds { get; set; } = 2;

    /// <summary>Deliveries one API instance runs at once.</summary>
    [Range(1, 64, ErrorMessage = "MindJourney:Storage:MaxParallelDeliveries must be between {1} and {2}.")]
    public int MaxParallelDeliveries { get; set; } = 4;

    /// <summary>Text answers' objects one API instance writes at once, beside the files: each is small and waits
    /// mostly on storage's answer, so a burst of answers is written within moments.</summary>
    [Range(1, 256, ErrorMessage = "MindJourney:Storage:MaxParallelTextDeliveries must be between {1} and {2}.")]
    public int MaxParallelTextDeliveries { get; set; } = 32;

    /// <summary>The share of the time the texts' objects are written in while answers queue for the database
    /// (<see cref="DeliverySignal"/>): the rest goes to the answers, and the objects wait, pending, until the queue
    /// is gone. 1 writes them at full speed always.</summary>
    [Range(0.01, 1, ErrorMessage = "MindJourney:Storage:TextDeliveryShareWhileAnswersQueue must be between {1} and {2}.")]
    public double TextDeliveryShareWhileAnswersQueue { get; set; } = 0.1;

    /// <summary>Answers per statement, on average over the last second, from which answers count as queueing: one
    /// statement carries the answers that arrived while the one before it ran, so a long queue makes large ones.</summary>
    [Range(1, 1000, ErrorMessage = "MindJourney:Storage:TextsGiveWayAtAnswersPerStatement must be between {1} and {2}.")]
    public int TextsGiveWayAtAnswersPerStatement { get; set; } = 8;

    public TimeSpan UploadTimeout => TimeSpan.FromSeconds(UploadTimeoutSeconds);

    /// <summary>How often an API instance sweeps storage for objects no answer names (<see cref="OrphanObjectSweep"/>);
    /// one instance sweeps at a time.</summary>
    [Range(0.1, 604_800, ErrorMessage = "MindJourney:Storage:OrphanSweepIntervalSeconds must be between {1} and {2}.")]
    public double OrphanSweepIntervalSeconds { get; set; } = 3600;

    /// <summary>UTC days (today first) whose folders a sweep lists: today and yesterday cover any upload cut short.</summary>
    [Range(1, MaxOrphanSweepDays, ErrorMessage = "MindJourney:Storage:OrphanSweepDays must be between {1} and {2}.")]
    public int OrphanSweepDays { get; set; } = 2;

    /// <summary>An object younger than this is never swept, whatever the database says; empty means
    /// <see cref="OrphanGrace"/>'s default. Shorter than an upload can take only where none runs (tests).</summary>
    [Range(0, 604_800, ErrorMessage = "MindJourney:Storage:OrphanSweepGraceSeconds must be between {1} and {2}.")]
    public double? OrphanSweepGraceSeconds { get; set; }

    /// <summary>The most days one sweep lists (a year and a day).</summary>
    public const int MaxOrphanSweepDays = 366;

    public TimeSpan OrphanSweepInterval => TimeSpan.FromSeconds(OrphanSweepIntervalSeconds);

    /// <summary>Longer than any upload between its object and its row: the attempt of the largest file a request may
    /// make, and the lease margin a claim adds to it.</summary>
    public TimeSpan OrphanGrace => OrphanSweepGraceSeconds is { } seconds
        ? TimeSpan.FromSeconds(seconds)
        : AttemptTimeout(MaxMediaBytes) + LeaseMargin;

    /// <summary>The time one attempt may take for <paramref name="sizeBytes"/>; the lease a claim takes is a
    /// little longer, so nobody else starts the same delivery meanwhile.</summary>
    public TimeSpan AttemptTimeout(long sizeBytes) =>
        UploadTimeout + TimeSpan.FromSeconds(Math.Min(3600, sizeBytes / (double)MinUploadBytesPerSecond));

    /// <summary>Rules across settings, checked at start with the ranges above.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetryMaxDelaySeconds < RetryInitialDelaySeconds)
        {
            yield return new ValidationResult(
                "MindJourney:Storage:RetryMaxDelaySeconds must be at least MindJourney:Storage:RetryInitialDelaySeconds.");
        }
    }

    public static TimeSpan LeaseMargin => TimeSpan.FromSeconds(30);

    /// <summary>Exponential backoff, capped, with ±20 % jitter so replicas do not retry in lockstep.</summary>
    public TimeSpan RetryDelay(int attempts)
    {
        var seconds = Math.Min(RetryMaxDelaySeconds, RetryInitialDelaySeconds * Math.Pow(2, Math.Clamp(attempts - 1, 0, 30)));
        return TimeSpan.FromSeconds(seconds * (0.8 + (Random.Shared.NextDouble() * 0.4)));
    }
}

public enum StorageMode
{
    /// <summary>Nothing configured: uploads are kept in the database as pending until storage is configured.</summary>
    None,

    /// <summary><c>STORAGE_EMULATOR_HOST</c>: an emulator over plain HTTP, unauthenticated.</summary>
    Emulator,

    /// <summary><c>FIREBASE_STORAGE_BUCKET</c> (+ <c>FIREBASE_SERVICE_ACCOUNT_KEY</c>): Firebase Storage.</summary>
    Firebase,
}

/// <summary>Where storage is, read from the variables the original platform used (environment or any other
/// configuration source).</summary>
public sealed record StorageTarget(StorageMode Mode, string? Bucket, string? EmulatorHost)
{
    public const string EmulatorHostKey = "STORAGE_EMULATOR_HOST";
    public const string BucketKey = "FIREBASE_STORAGE_BUCKET";
    public const string ServiceAccountKeyKey = "FIREBASE_SERVICE_ACCOUNT_KEY";

    public static StorageTarget From(IConfiguration configuration)
    {
        var bucket = configuration[BucketKey] is { Length: > 0 } b ? b.Trim() : null;
        if (configuration[EmulatorHostKey] is { Length: > 0 } host)
        {
            // Accept "host:port" (the convention) and "http://host:port/" alike.
            var hostAndPort = host.Trim().Replace("http://", "", StringComparison.OrdinalIgnoreCase).TrimEnd('/');
            return new StorageTarget(StorageMode.Emulator, bucket ?? ResourceNames.DevelopmentBucket, hostAndPort);
        }

        return bucket is null ? new StorageTarget(StorageMode.None, null, null) : new StorageTarget(StorageMode.Firebase, bucket, null);
    }
}
